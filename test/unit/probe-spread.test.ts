// node/roles/checker/duty.ts: how far into the probe window a checker's probes may start.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { PROBE_RESERVE_MS, probeSpreadMs } from '../../node/roles/checker/duty.js'

test('a short window keeps its first quarter, so a probe has three quarters to finish', () => {
  // The default 60 s epoch: a 30 s window less the half tolerance.
  assert.is(probeSpreadMs(29_750), 7438)
  assert.is(probeSpreadMs(4 * PROBE_RESERVE_MS / 3), PROBE_RESERVE_MS / 3)
})

test('a long window spreads probes over all of it but a probe\'s reserve', () => {
  // The simulator's 4 s epoch at ×100: a 200 s window, so 140 s rather than 50 s.
  assert.is(probeSpreadMs(199_750), 199_750 - PROBE_RESERVE_MS)
  assert.is(probeSpreadMs(1_800_000), 1_800_000 - PROBE_RESERVE_MS)
  for (const w of [1, 1000, 80_000, 80_001, 500_000]) {
    const s = probeSpreadMs(w)
    assert.ok(s >= Math.round(w * 0.25) && s <= w, `${w} ms → ${s} ms`)
  }
})

test('a window already over, or never open, spreads nothing', () => {
  assert.is(probeSpreadMs(0), 0)
  assert.is(probeSpreadMs(-5_000), 0)
  assert.is(probeSpreadMs(Number.NaN), 0)
})

test.run()
