// `npm run bench -- dht [--servers N] [--queries Q] [--rounds R]`: CPU per kad-dht query and per
// RPC among N DHT servers in one process over the memory transport (the simulator's setting),
// with the peer-store read cache (node/network/peer-store-read-cache.ts) against the same stack
// without it, alternated round by round. Each server answers a query with the 20 closest peers
// it knows, so a query among 20 servers is ≈ 19 RPCs and ≈ 380 peer-store reads.
import { randomBytes } from 'node:crypto'
import { benchNode, log, median, positiveIntFlag, round } from './lib.js'
import type { KaisarLibp2p } from '../node/network/libp2p.js'

interface Round { cpuMsPerQuery: number, cpuMsPerRpc: number, rpcsPerQuery: number }

let networks = 0

async function measure (servers: number, queries: number, cache: boolean): Promise<Round> {
  const net = `bench-dht-${networks++}`
  const nodes: KaisarLibp2p[] = []
  try {
    for (let i = 0; i < servers; i++) {
      nodes.push(await benchNode({ listen: [`/memory/${net}-${i}`], transport: 'memory', dhtServer: true, maxConnections: 4 * servers, metrics: false, peerStoreReadCache: cache }))
    }
    const first = nodes[0]?.getMultiaddrs()[0]
    if (first == null) throw new Error('the first server has no address')
    for (const node of nodes.slice(1)) await node.dial(first)
    // One query from every server fills the routing tables (each server learns all others).
    for (const node of nodes) for await (const _ of node.services.dht.getClosestPeers(randomBytes(32))) { /* drain */ }
    let rpcs = 0
    const before = process.cpuUsage()
    for (let q = 0; q < queries; q++) {
      const node = nodes[q % nodes.length] as KaisarLibp2p
      for await (const event of node.services.dht.getClosestPeers(randomBytes(32))) if (event.name === 'PEER_RESPONSE') rpcs++
    }
    const used = process.cpuUsage(before)
    const ms = (used.user + used.system) / 1000
    if (rpcs === 0) throw new Error('no query reached a server')
    return { cpuMsPerQuery: ms / queries, cpuMsPerRpc: ms / rpcs, rpcsPerQuery: rpcs / queries }
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const servers = positiveIntFlag(args, '--servers', 20)
  const queries = positiveIntFlag(args, '--queries', 150)
  const rounds = positiveIntFlag(args, '--rounds', 3)
  const cached: Round[] = []
  const stock: Round[] = []
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first: the machine's speed drifts within minutes.
    for (const cache of r % 2 === 0 ? [true, false] : [false, true]) {
      const result = await measure(servers, queries, cache)
      ;(cache ? cached : stock).push(result)
      log(`round ${r + 1}/${rounds} ${cache ? 'read cache' : 'no cache  '}: ${result.cpuMsPerQuery.toFixed(1)} CPU ms/query, ${result.cpuMsPerRpc.toFixed(2)} ms/RPC, ${result.rpcsPerQuery.toFixed(1)} RPCs/query`)
    }
  }
  const perQuery = median(cached.map(r => r.cpuMsPerQuery))
  const perQueryStock = median(stock.map(r => r.cpuMsPerQuery))
  return {
    servers,
    queries,
    rounds,
    rpcs_per_query: round(median(cached.map(r => r.rpcsPerQuery)), 1),
    cpu_ms_per_query: round(perQuery, 2),
    cpu_ms_per_rpc: round(median(cached.map(r => r.cpuMsPerRpc)), 3),
    nocache_cpu_ms_per_query: round(perQueryStock, 2),
    nocache_cpu_ms_per_rpc: round(median(stock.map(r => r.cpuMsPerRpc)), 3),
    cache_vs_nocache: round(perQuery / perQueryStock, 3)
  }
}
