// Issue 7: the simulator over two processes (sim/shard.ts). The cheaters scenario at small scale
// with half of the providers and checkers in a forked shard, links between the processes over
// loopback TCP and links within one in memory (node/network/in-process-links.ts): the
// same correctness as in one process (cheaters caught in both processes, no honest provider
// failed, gossip crossing between the processes, DHT lookups and orders), each process's cost
// reported, and no shard process left behind.
import { readdirSync, readFileSync } from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runSim } from '../../sim/runner.js'
import { testLogger } from '../helpers/popw.js'

/** This process's children (pid and command line), from /proc. */
function children (): string[] {
  const out: string[] = []
  for (const pid of readdirSync('/proc').filter(d => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === process.pid) out.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')}`)
    } catch {} // gone meanwhile
  }
  return out
}

test('cheaters over two shards: the same correctness as one process, and no shard left running', async () => {
  const r = await runSim({ scenario: 'cheaters', nodes: 16, seed: 11, durationMs: 20_000, dilation: 1, baseEpochMs: 5000, baseHeartbeatMs: 2000, shards: 2, logger: testLogger() })
  const why = JSON.stringify(r.outcomes.providers.filter(p => p.judged !== 'clean'))
  // Links between two nodes of one process in memory (in-process-links.ts), TCP between the processes.
  assert.equal([r.shards, r.transport, r.inProcessLinks], [2, 'tcp', true])
  assert.is(r.resources.processes.length, 2)
  for (const p of r.resources.processes) assert.ok(p.nodes > 0 && p.cpuCores > 0 && p.rssMaxMiB > 0, `each process ran nodes and was measured: ${JSON.stringify(r.resources.processes)}`)
  assert.is(r.resources.processes.reduce((n, p) => n + p.nodes, 0), r.nodes)
  // Counted in both processes: every node holds at least its bootstrap gateway's connection and
  // a DHT server's, and no node can hold more than one per other node (and user).
  assert.ok(r.resources.connectionsPerNode >= 2 && r.resources.connectionsPerNode <= r.nodes + r.users, `connections per node: ${r.resources.connectionsPerNode}`)
  // Providers in both processes, cheaters caught wherever they ran.
  const byShard = (s: number): typeof r.outcomes.providers => r.outcomes.providers.filter(p => p.shard === s)
  assert.ok(byShard(0).length > 0 && byShard(1).length > 0, `providers in both processes: ${why}`)
  assert.ok(r.outcomes.cheatersTotal >= 4, `one cheater of each kind at least (${r.outcomes.cheatersTotal})`)
  assert.is(r.outcomes.cheatersCaught, r.outcomes.cheatersTotal, `caught ${r.outcomes.cheatersCaught}/${r.outcomes.cheatersTotal}: ${why}`)
  assert.ok(r.outcomes.providers.some(p => p.shard === 1 && p.judged === 'caught'), `a cheater in the shard was caught: ${why}`)
  assert.ok(r.outcomes.honestJudged >= 5, `honest providers with outcomes: ${r.outcomes.honestJudged}: ${why}`)
  assert.is(r.outcomes.honestFailed, 0, `honest failed: ${why}`)
  assert.ok(r.outcomes.epochs.filter(e => e.settled).length >= 3, `epochs settled: ${JSON.stringify(r.outcomes.epochs)}`)
  // Heartbeats published in one process and received in the other are counted (and arrive).
  assert.ok(r.gossip.expected >= 100, `gossip pairs: ${r.gossip.expected}`)
  assert.ok(r.gossip.ratio >= 0.999, `gossip delivery ${r.gossip.delivered}/${r.gossip.expected}`)
  assert.ok(r.dht.lookups > 0 && r.dht.ratio >= 0.99, `DHT lookups ${r.dht.ok}/${r.dht.lookups}: ${JSON.stringify(r.dht.results.filter(d => !d.ok))}`)
  assert.ok(r.orders.total > 0 && r.orders.ok === r.orders.total, `orders ${r.orders.ok}/${r.orders.total}: ${r.orders.failures.join('; ')}`)
  assert.equal(children().filter(c => c.includes('shard-main')), [], 'no shard process left')
})

test.run()
