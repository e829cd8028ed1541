// A checker does not blame a provider for its own stalls (node/runtime/loop-lag.ts,
// node/roles/checker/prober.ts `lagVerdict`): the monitor sees a stall of the event loop, also one
// that has not reached a timer tick yet, and only over the span asked; a failing report whose
// every reason is a timed one that a stall excuses becomes an abstention, and one untimed reason
// keeps it a failure.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LoopLagMonitor } from '../../node/runtime/loop-lag.js'
import { LAG_ABSTAIN_MS, TIMED_REASONS, lagVerdict, type ProbeReport } from '../../node/roles/checker/prober.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const block = (ms: number): void => { const until = performance.now() + ms; while (performance.now() < until); }

test('the monitor reports a stall over the span that holds it, and not outside it', async () => {
  const monitor = new LoopLagMonitor()
  monitor.start()
  try {
    await sleep(200)
    const quiet = performance.now()
    await sleep(300)
    assert.ok(monitor.maxSince(quiet) < 150, `an idle loop: ${monitor.maxSince(quiet)} ms`)
    const before = performance.now()
    block(400)
    // No tick has run since the stall began: the stall under way counts.
    assert.ok(monitor.maxSince(before) >= 350, `a stall not yet ticked: ${monitor.maxSince(before)} ms`)
    await sleep(200)
    assert.ok(monitor.maxSince(before) >= 350, `a stall ticked: ${monitor.maxSince(before)} ms`)
    const after = performance.now()
    await sleep(300)
    assert.ok(monitor.maxSince(after) < 150, `after the stall: ${monitor.maxSince(after)} ms`)
  } finally {
    monitor.stop()
  }
})

test('a stopped monitor reports nothing it did not see', () => {
  const monitor = new LoopLagMonitor()
  const t = performance.now()
  block(100)
  assert.is(monitor.maxSince(t), 0)
})

const failing = (reasons: string[]): ProbeReport => ({ result: 'fail', reasons, rttMs: 1, bandwidthMbps: 0, challengeN: 64, challengeMs: 900, deadlineMs: 620, claimedClass: 'cpu', leasesChecked: 0, leasesOk: 0 })

test('timed failures that stalls excuse become an abstention; one untimed reason keeps the failure', () => {
  const lag = LAG_ABSTAIN_MS + 100
  for (const r of ['unreachable', 'challenge-deadline', 'challenge-too-slow', 'no-record']) assert.ok(TIMED_REASONS.has(r), r)
  for (const r of ['challenge-replayed', 'challenge-wrong-row', 'wallet-mismatch', 'challenge-refused']) assert.not.ok(TIMED_REASONS.has(r), r)

  const excused = lagVerdict(failing(['challenge-deadline', 'bandwidth-failed']), new Map([['challenge-deadline', lag], ['bandwidth-failed', 300]]))
  assert.is(excused.abstain, true)
  assert.is(excused.checkerLagMs, lag)
  assert.equal(excused.reasons, ['challenge-deadline', 'bandwidth-failed'], 'the reasons stay for the log')

  // One timed failure whose step saw no stall: still the provider's.
  assert.is(lagVerdict(failing(['challenge-deadline', 'bandwidth-failed']), new Map([['challenge-deadline', lag]])).abstain, undefined)
  // A replayed answer is a fact about what the provider sent, whatever the checker's clock did.
  assert.is(lagVerdict(failing(['challenge-deadline', 'challenge-replayed']), new Map([['challenge-deadline', lag]])).abstain, undefined)
  // A passing report and one already abstaining are left as they are.
  const pass: ProbeReport = { ...failing([]), result: 'pass' }
  assert.is(lagVerdict(pass, new Map()), pass)
})

test.run()
