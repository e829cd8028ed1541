// node/roles/checker/duty.ts: how far into the probe window a checker's probes may start, and
// how far into the commit and reveal windows it publishes; and (prober.ts) how long a failed step pauses before its second try.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EpochSchedule } from '../../protocols/popw/epoch.js'
import { PROBE_RESERVE_MS, probeSpreadMs, publishDelayMs } from '../../node/roles/checker/duty.js'
import { RETRY_PAUSE_MS, retryPauseMs } from '../../node/roles/checker/prober.js'

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

test('checkers publish at moments spread over the first half of the window, so their floods do not coincide', () => {
  const windowMs = 80_000 // the simulator's commit window at ×100 (4 s epochs)
  const delays = Array.from({ length: 1000 }, (_, i) => publishDelayMs(windowMs, i / 1000))
  assert.is(Math.min(...delays), 0)
  assert.ok(Math.max(...delays) < windowMs / 2, `latest ${Math.max(...delays)} ms`)
  // Uniform: each tenth of the half window gets a tenth of the checkers.
  for (let d = 0; d < 10; d++) {
    const inDecile = delays.filter(x => x >= d * windowMs / 20 && x < (d + 1) * windowMs / 20).length
    assert.is(inDecile, 100, `decile ${d}`)
  }
})

test('the last publication still has half the window, and the grace, to cross the network', () => {
  for (const epochMs of [5_000, 60_000, 400_000]) {
    const t = new EpochSchedule(epochMs).times(1000)
    const lastCommit = t.probeEnd + publishDelayMs(t.commitClose - t.probeEnd, 0.999999)
    assert.ok(t.commitClose - lastCommit >= (t.commitClose - t.probeEnd) / 2, `${epochMs} ms epochs: the last commit ${t.commitClose - lastCommit} ms before the window closes`)
    const lastReveal = t.commitClose + publishDelayMs(t.end - t.commitClose, 0.999999)
    assert.ok(t.revealClose - lastReveal > (t.end - t.commitClose) / 2, `${epochMs} ms epochs: the last reveal ${t.revealClose - lastReveal} ms before reveals close`)
  }
})

test('no window, or a draw outside [0, 1), publishes at once', () => {
  assert.is(publishDelayMs(0, 0.5), 0)
  assert.is(publishDelayMs(-1, 0.5), 0)
  assert.is(publishDelayMs(Number.NaN, 0.5), 0)
  assert.is(publishDelayMs(10_000, 1), 0)
  assert.is(publishDelayMs(10_000, -0.1), 0)
  assert.is(publishDelayMs(10_000, Number.NaN), 0)
})

test('a failed step pauses a quarter of what is left of the window before its second try, at most 10 s', () => {
  assert.is(retryPauseMs(12_000), 3_000)
  assert.is(retryPauseMs(25_000), 6_250, 'the default 60 s epoch: under 30 s left, under 7.5 s')
  assert.is(retryPauseMs(200_000), RETRY_PAUSE_MS, 'a long window: the cap')
  assert.is(RETRY_PAUSE_MS, 10_000)
  for (const left of [0, -5, Number.NaN]) assert.is(retryPauseMs(left), 0, `${left} ms left: no pause`)
})

test.run()
