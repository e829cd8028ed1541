// A checker does not blame a provider for its own stalls (node/runtime/loop-lag.ts,
// node/roles/checker/prober.ts `stallExcuses`, `lagVerdict`): the monitor sees a stall of the
// event loop, also one that has not reached a timer tick yet, and only over the span asked; a
// failing report whose every reason is a timed one that a stall excuses becomes an abstention,
// and one untimed reason keeps it a failure.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { streamPair } from '@libp2p/utils'
import { Registry } from 'prom-client'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { JsonFrames } from '../../node/network/json-frames.js'
import { PopwMetrics } from '../../node/popw/metrics.js'
import { LoopLagMonitor } from '../../node/runtime/loop-lag.js'
import { LAG_ABSTAIN_MS, Prober, TIMED_REASONS, lagVerdict, stallExcuses, type ProbeReport } from '../../node/roles/checker/prober.js'
import { challengeRequestSchema } from '../../protocols/popw/messages.js'
import type { Ledger } from '../../chain/ledger.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { SignedRecordStore } from '../../node/network/records/store.js'
import type { EpochContext } from '../../node/popw/registry.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const block = (ms: number): void => { const until = performance.now() + ms; while (performance.now() < until); }
/** Never answers within the test (unref'd: it does not keep the process alive after it). */
const hang = async (ms: number): Promise<void> => { await new Promise(resolve => { setTimeout(resolve, ms).unref() }) }

test('the monitor reports a stall over the span that holds it, and not outside it', async () => {
  const monitor = new LoopLagMonitor()
  monitor.start()
  try {
    await sleep(200)
    const quiet = performance.now()
    await sleep(300)
    assert.ok(monitor.longestStallSince(quiet) < 150, `an idle loop: ${monitor.longestStallSince(quiet)} ms`)
    const before = performance.now()
    block(400)
    // No tick has run since the stall began: the stall under way counts.
    assert.ok(monitor.longestStallSince(before) >= 350, `a stall not yet ticked: ${monitor.longestStallSince(before)} ms`)
    await sleep(200)
    assert.ok(monitor.longestStallSince(before) >= 350, `a stall ticked: ${monitor.longestStallSince(before)} ms`)
    const after = performance.now()
    await sleep(300)
    assert.ok(monitor.longestStallSince(after) < 150, `after the stall: ${monitor.longestStallSince(after)} ms`)
  } finally {
    monitor.stop()
  }
})

test('the longest stall counts, not their sum, and the part before the span is left out', async () => {
  const monitor = new LoopLagMonitor()
  monitor.start()
  try {
    await sleep(100)
    block(400)
    const mid = performance.now()
    block(200)
    await sleep(120)
    block(300)
    await sleep(120)
    // From `mid`: the last 200 ms of the first stall, then 300 ms: the longest is 300 (less up to one
    // 50 ms sampling interval), not 500 or 600.
    const longest = monitor.longestStallSince(mid)
    assert.ok(longest >= 230 && longest < 400, `longest ${longest} ms`)
    // A busy loop (30 ms turns) is not a stall.
    const busy = performance.now()
    for (let i = 0; i < 15; i++) { block(30); await new Promise(resolve => setImmediate(resolve)) }
    assert.ok(monitor.longestStallSince(busy) < 120, `busy loop: ${monitor.longestStallSince(busy)} ms`)
  } finally {
    monitor.stop()
  }
})

test('a span that ended before a stall does not see it', async () => {
  const monitor = new LoopLagMonitor()
  monitor.start()
  try {
    await sleep(100)
    const from = performance.now()
    await sleep(200)
    const to = performance.now()
    block(400)
    await sleep(100)
    assert.ok(monitor.longestStallSince(from, to) < 150, `the span before the stall: ${monitor.longestStallSince(from, to)} ms`)
    assert.ok(monitor.longestStallSince(from) >= 350, `the span up to now: ${monitor.longestStallSince(from)} ms`)
  } finally {
    monitor.stop()
  }
})

test('a stall excuses a failed step only when it is long and half of the step or more', () => {
  assert.ok(stallExcuses(LAG_ABSTAIN_MS + 50, LAG_ABSTAIN_MS + 100))
  assert.not.ok(stallExcuses(LAG_ABSTAIN_MS - 1, LAG_ABSTAIN_MS - 1), 'a short stall excuses nothing')
  assert.not.ok(stallExcuses(400, 5_000), 'a 5 s timeout with 400 ms of stalls is the provider\'s')
  assert.ok(stallExcuses(4_000, 5_000))
})

test('a stopped monitor reports nothing it did not see', () => {
  const monitor = new LoopLagMonitor()
  const t = performance.now()
  block(100)
  assert.is(monitor.longestStallSince(t), 0)
})

const failing = (reasons: string[]): ProbeReport => ({ result: 'fail', reasons, errors: [], rttMs: 1, bandwidthMbps: 0, challengeN: 64, challengeMs: 900, deadlineMs: 620, claimedClass: 'cpu', leasesChecked: 0, leasesOk: 0 })

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

/**
 * A Prober whose every dial reaches `serve` over an in-memory stream pair (the provider's side of
 * /kaisar/challenge/1.0.0; `dial` counts from 1), the ledger and DHT unused: the probes below end
 * at the ping. The epoch's probe window ends in 4 s; the probe's signal aborts after `windowMs`
 * when given, and never otherwise.
 */
async function probeAgainst (serve: (frames: JsonFrames, dial: number) => Promise<void>, windowMs?: number): Promise<{ report: ProbeReport, lagged: number }> {
  const metrics = new PopwMetrics(new Registry())
  const loopLag = new LoopLagMonitor()
  loopLag.start()
  let dials = 0
  const libp2p = {
    dialProtocol: async () => { const [checkerEnd, providerEnd] = await streamPair(); void serve(new JsonFrames(providerEnd), ++dials).catch(() => {}); return checkerEnd },
    getConnections: () => []
  }
  const prober = new Prober({ libp2p: libp2p as unknown as KaisarLibp2p, ledger: {} as unknown as Ledger, records: {} as unknown as SignedRecordStore, metrics, loopLag }, { challengeMs: 5, bandwidthBytes: 0, challengeAllowanceMs: 600 })
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  // AbortSignal.timeout's timers and the monitor's are unref'd; a real node's sockets keep it alive.
  const keepAlive = setInterval(() => {}, 1000)
  try {
    const report = await prober.probe({ peerId: peerId.toString(), key: new Uint8Array(peerId.toMultihash().bytes), address: '5Provider' }, { epoch: 1, times: { probeEnd: Date.now() + (windowMs ?? 4_000) } } as unknown as EpochContext, windowMs != null ? AbortSignal.timeout(windowMs) : new AbortController().signal)
    return { report, lagged: (await metrics.laggedProbes.get()).values[0]?.value ?? 0 }
  } finally {
    clearInterval(keepAlive)
    loopLag.stop()
  }
}

test('a timed failure in a step during which the checker\'s loop stalled is an abstention, counted', async () => {
  // The process stalls while the ping is in flight (one process holding both ends, or a checker
  // under load), and the ping then fails: the checker cannot tell the provider's failing from its
  // own lateness, so it does not sign a failure.
  const { report, lagged } = await probeAgainst(async frames => {
    assert.is((await frames.read(challengeRequestSchema)).op, 'ping')
    block(LAG_ABSTAIN_MS + 150)
    await frames.stream.close() // no pong
  })
  assert.equal(report.reasons, ['unreachable'])
  assert.is(report.abstain, true, JSON.stringify(report))
  assert.ok((report.checkerLagMs ?? 0) >= LAG_ABSTAIN_MS, `lag ${report.checkerLagMs}`)
  assert.is(lagged, 1, 'counted in kaisar_popw_probes_lagged_total')
})

test('a second try cut short by the window leaves the first try standing, and its stall with it', async () => {
  // The checker's loop stalls through the first ping, which fails; the second ping, on a healthy
  // loop, gets no answer before the window closes. The failure that stands is the first try's,
  // so the stall read is the first try's: the checker abstains. Read over the second try (as it
  // was), the stall went unseen and the checker signed a failure.
  const { report, lagged } = await probeAgainst(async (frames, dial) => {
    assert.is((await frames.read(challengeRequestSchema)).op, 'ping')
    if (dial === 1) {
      block(LAG_ABSTAIN_MS + 150)
      await frames.stream.close() // no pong
    } else {
      await hang(5_000) // no answer before the window closes
    }
  }, 2_500)
  assert.equal(report.reasons, ['unreachable'])
  assert.equal(report.errors.length, 2, report.errors.join('; '))
  assert.is(report.abstain, true, JSON.stringify(report))
  assert.ok((report.checkerLagMs ?? 0) >= LAG_ABSTAIN_MS, `lag ${report.checkerLagMs}`)
  assert.is(lagged, 1)
})

test('a second try cut short by the window, with no stall in either, leaves the failure standing', async () => {
  const { report, lagged } = await probeAgainst(async (frames, dial) => {
    await frames.read(challengeRequestSchema)
    if (dial === 1) await frames.stream.close() // no pong
    else await hang(5_000)
  }, 2_500)
  assert.equal(report.reasons, ['unreachable'])
  assert.equal(report.errors.length, 2, report.errors.join('; '))
  assert.is(report.result, 'fail')
  assert.is(report.abstain, undefined, JSON.stringify(report))
  assert.is(lagged, 0)
})

test('a short stall inside a long failed step excuses nothing', async () => {
  const { report, lagged } = await probeAgainst(async frames => {
    await frames.read(challengeRequestSchema)
    block(LAG_ABSTAIN_MS + 50)
    await sleep(1_500)
    await frames.stream.close()
  })
  assert.equal(report.reasons, ['unreachable'])
  assert.is(report.abstain, undefined, JSON.stringify(report))
  assert.is(lagged, 0)
})

test('without a stall the same failure stands', async () => {
  const { report, lagged } = await probeAgainst(async frames => {
    await frames.read(challengeRequestSchema)
    await frames.stream.close() // no pong
  })
  assert.equal(report.reasons, ['unreachable'])
  assert.is(report.result, 'fail')
  assert.is(report.abstain, undefined)
  assert.is(lagged, 0)
})

test.run()
