// The simulator's shard protocol (sim/shard.ts) without nodes: a forked worker refuses malformed
// requests with a clear error and keeps serving; a request it cannot honour fails, it does not
// hang; `stop` ends the process. And the gossip probe counts a receipt that reaches the runner
// before the publish it answers (events from two processes arrive in any order).
import { fork } from 'node:child_process'
import net from 'node:net'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { GossipProbe, ResourceMonitor, combineResources, keepLongestStalls, maxOf, openFds, percentile, type LoopStall } from '../../sim/metrics.js'
import { ShardClient, placement } from '../../sim/shard.js'

type Reply = { id: number, ok: boolean, value?: unknown, error?: string }

interface Worker { ask: (id: number, req: unknown) => Promise<Reply>, disconnect: () => void, exited: Promise<unknown[]>, kill: () => void }

function worker (): Worker {
  const child = fork(new URL('../../sim/shard-main.js', import.meta.url), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = once(child, 'exit')
  const ask = async (id: number, req: unknown): Promise<Reply> => await new Promise((resolve, reject) => {
    const onMessage = (m: Reply): void => { if (m.id === id) { child.off('message', onMessage); resolve(m) } }
    child.on('message', onMessage)
    child.send({ id, req }, err => { if (err != null) reject(err) })
  })
  return { ask, disconnect: () => { child.disconnect() }, exited, kill: () => { child.kill('SIGKILL') } }
}

/** The worker's exit after the runner let go of it: [code, signal], or a kill after 10 s. */
async function exitOf (w: Worker): Promise<unknown[]> {
  const timer = setTimeout(w.kill, 10_000)
  try { return await w.exited } finally { clearTimeout(timer) }
}

test('a shard worker refuses malformed requests and keeps serving', async () => {
  const w = worker()
  try {
    const unknownOp = await w.ask(1, { op: 'explode' })
    assert.is(unknownOp.ok, false)
    assert.match(unknownOp.error ?? '', /^bad request: op/)
    const badPlan = await w.ask(2, { op: 'join', plan: { id: 'provider-1', role: 'miner', region: 'eu', behaviour: 'honest', dhtServer: false, initial: false } })
    assert.is(badPlan.ok, false)
    assert.match(badPlan.error ?? '', /^bad request: plan\.role/)
    const badStart = await w.ask(3, { op: 'start', start: { plans: [], popw: {}, nodes: 0, epochMs: 1000, heartbeatMs: 1000, gossipHeartbeatMs: 1000, bootstrap: [], startRate: 0, startConcurrency: 1 } })
    assert.is(badStart.ok, false)
    assert.match(badStart.error ?? '', /start\.nodes/)
    assert.match(badStart.error ?? '', /start\.bootstrap/)
    // Well formed but impossible: no such node, not started yet.
    const noNode = await w.ask(4, { op: 'leave', node: 'provider-9' })
    assert.equal([noNode.ok, noNode.error], [false, 'no node provider-9 in this shard'])
    const noJoin = await w.ask(5, { op: 'join', plan: { id: 'provider-1', role: 'provider', region: 'eu', behaviour: 'honest', dhtServer: false, initial: false } })
    assert.equal([noJoin.ok, noJoin.error], [false, 'not started'])
    const unadvertised = await w.ask(6, { op: 'unadvertised' })
    assert.equal([unadvertised.ok, unadvertised.value], [true, []])
    const stopped = await w.ask(7, { op: 'stop' })
    assert.is(stopped.ok, true)
  } finally {
    w.disconnect()
  }
  assert.equal(await exitOf(w), [0, null], 'exited by itself once let go, not killed')
})

test('a shard worker whose runner goes away exits', async () => {
  const w = worker()
  const ready = await w.ask(1, { op: 'unadvertised' })
  assert.is(ready.ok, true)
  w.disconnect() // no stop: the runner crashed
  assert.equal(await exitOf(w), [0, null], 'exited by itself, not killed')
})

test('a shard that does not stop within its grace period is killed, and stopping it does not throw', async () => {
  const shard = ShardClient.spawn(1, new GossipProbe(), () => {}, 512)
  // 1 ms: the kill comes before the worker can answer `stop`, so its IPC channel is gone when
  // stop() goes on to close it (it used to throw "IPC channel is already disconnected").
  await shard.stop(1)
  await shard.stop(1) // and once more, on a shard already gone
})

test('the gossip probe counts a receipt that arrives before its publish', () => {
  const probe = new GossipProbe()
  probe.subscribed('checker', 0)
  probe.subscribed('gateway', 0)
  probe.received('provider', 7n, 'checker', 1_040) // from another shard, ahead of the publish event
  probe.published('provider', 7n, 1_000)
  probe.received('provider', 7n, 'checker', 1_090) // a duplicate: the first receipt counts
  const s = probe.summary(0, 10_000, 2_000)
  assert.equal([s.published, s.expected, s.delivered, s.latenciesMs], [1, 2, 1, [40]])
})

test('the gossip probe says whose receipts are missing: a publisher nobody hears, a subscriber that hears nobody', () => {
  const probe = new GossipProbe()
  for (const s of ['checker-0', 'checker-1', 'checker-2']) probe.subscribed(s, 0)
  for (let seq = 1; seq <= 4; seq++) {
    for (const p of ['provider-0', 'provider-1']) {
      probe.published(p, seq, seq * 100)
      // provider-1 is heard by nobody; checker-2 hears nobody; one receipt of provider-0 is lost.
      if (p === 'provider-0') for (const s of ['checker-0', 'checker-1']) if (!(seq === 3 && s === 'checker-1')) probe.received(p, seq, s, seq * 100 + 5)
    }
  }
  const m = probe.summary(0, 10_000, 1_000).missed
  assert.is(m.publishers, 2)
  assert.is(m.subscribers, 3)
  assert.equal(m.worstPublishers[0], { peer: 'provider-1', missed: 12, expected: 12 })
  assert.equal(m.worstSubscribers[0], { peer: 'checker-2', missed: 8, expected: 8 })
  assert.equal(m.worstSubscribers.find(s => s.peer === 'checker-1'), { peer: 'checker-1', missed: 5, expected: 8 })
})

test('placement: one process takes everything, two share, three or more keep the ledger host\'s process free', () => {
  const ids = [...Array(7).keys()].map(i => `provider-${i}`)
  const one = placement(1)
  assert.equal([ids.map(one.place), one.processes], [[0, 0, 0, 0, 0, 0, 0], 1])
  const two = placement(2)
  assert.equal([ids.map(two.place), two.processes], [[0, 1, 0, 1, 0, 1, 0], 2])
  const three = placement(3)
  assert.equal([ids.map(three.place), three.processes], [[1, 2, 1, 2, 1, 2, 1], 2])
  assert.is(three.place('provider-1'), 2, 'a node asked again keeps its process')
  assert.is(three.place('provider-x1'), 2, 'a joiner continues the round')
})

test('a run\'s cost over its processes: CPU, RSS, nodes and connections add up, the loop lag is the worst process\'s', () => {
  const runner = { cpuCores: 0.5, rssMaxMiB: 1200, baselineRssMiB: 100, loopP50Ms: 10, loopP99Ms: 177, loopMaxMs: 400, nodes: 51, connections: 2000, trimmed: 30, stalls: [{ at: 3000, ms: 1200 }], gcMaxMs: 80, fdMax: 900, fdLimit: 20_000 }
  const worker = { cpuCores: 0.4, rssMaxMiB: 1000, baselineRssMiB: 90, loopP50Ms: 12, loopP99Ms: 108, loopMaxMs: 900, nodes: 49, connections: 1900, trimmed: 12, stalls: [{ at: 2000, ms: 1500 }], gcMaxMs: 350, fdMax: 17_000, fdLimit: 20_000 }
  const all = combineResources([runner, worker])
  assert.equal(all, { cpuCores: 0.9, rssMaxMiB: 2200, baselineRssMiB: 190, loopP50Ms: 12, loopP99Ms: 177, loopMaxMs: 900, nodes: 100, connections: 3900, trimmed: 42, stalls: [{ at: 2000, ms: 1500 }, { at: 3000, ms: 1200 }], gcMaxMs: 350, fdMax: 17_000, fdLimit: 20_000 })
})

test('a process keeps its eight longest loop stalls, in time order', () => {
  let kept: LoopStall[] = []
  for (let i = 0; i < 20; i++) kept = keepLongestStalls(kept, { at: 1000 * i, ms: 1000 + ((i * 7) % 20) * 100 })
  assert.equal(kept.map(s => s.ms), [2400, 2500, 2600, 2700, 2800, 2200, 2900, 2300])
  assert.equal(kept.map(s => s.at), [...kept.map(s => s.at)].sort((a, b) => a - b))
})

test('a window\'s stalls are measured: a 1.5 s block of the loop is kept with its time, a short one is not', async () => {
  const monitor = new ResourceMonitor()
  monitor.begin()
  const block = (ms: number): void => { const until = performance.now() + ms; while (performance.now() < until) {} }
  await new Promise(resolve => setTimeout(resolve, 300))
  block(300)
  await new Promise(resolve => setTimeout(resolve, 300))
  const before = Date.now()
  block(1500)
  await new Promise(resolve => setTimeout(resolve, 300))
  const w = monitor.end([])
  assert.is(w.stalls.length, 1, JSON.stringify(w.stalls))
  assert.ok((w.stalls[0] as LoopStall).ms >= 1300 && (w.stalls[0] as LoopStall).ms <= 2500, JSON.stringify(w.stalls))
  assert.ok((w.stalls[0] as LoopStall).at >= before + 1400, 'stamped when it ended')
})

test('a window counts the process\'s file descriptors: sockets opened during it raise its most, against the limit', async () => {
  const monitor = new ResourceMonitor()
  monitor.begin()
  const before = openFds()
  assert.ok(before > 0, 'Linux: /proc/self/fd is readable')
  const servers = await Promise.all([...Array(20).keys()].map(async () => await new Promise<net.Server>(resolve => { const srv = net.createServer().listen(0, '127.0.0.1', () => { resolve(srv) }) })))
  const w = monitor.end([])
  await Promise.all(servers.map(async srv => { await new Promise(resolve => srv.close(resolve)) }))
  assert.ok(w.fdMax >= before + 20, `${w.fdMax} descriptors at most, ${before} before 20 listening sockets`)
  assert.ok(w.fdLimit >= 1024, `limit ${w.fdLimit}`)
})

test('a long run\'s latencies (half a million receipts) are summarised without overflowing the stack', () => {
  const latencies = Array.from({ length: 500_000 }, (_, i) => i % 1000)
  latencies[123_456] = 4_321
  assert.is(maxOf(latencies), 4_321)
  assert.is(maxOf([]), 0)
  assert.is(percentile(latencies, 50), 500, 'one 456 became 4,321: the middle moves up by one place')
})

test.run()
