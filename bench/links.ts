// `npm run bench -- links [--servers N] [--queries Q] [--pings P] [--rounds R]`: what links kept
// in memory between nodes of one process (node/network/in-process-links.ts, the simulator's
// shards) cost against the same nodes over loopback TCP, alternated round by round in one run:
//  - CPU per kad-dht query among N DHT servers (all in this process);
//  - CPU per round trip of a 300-byte message on one stream between two nodes.
// Both sides are the whole stack (Noise, Yamux, libp2p); only the kernel's part differs.
// And between two of the simulator's processes (two registries; both ends still in this one, so
// one CPU figure holds both): the round trip through a link trunk (node/network/link-trunk.ts)
// against loopback TCP with libp2p's plaintext exchange, what the trunk replaced.
import { randomBytes } from 'node:crypto'
import { InProcessLinks, tcpAddressKey } from '../node/network/in-process-links.js'
import { openTrunkPort } from '../sim/trunks.js'
import { benchNode, log, median, positiveIntFlag, round } from './lib.js'
import type { KaisarLibp2p } from '../node/network/libp2p.js'
import type { Multiaddr } from '@multiformats/multiaddr'

interface Round { cpuMsPerQuery: number, cpuUsPerRoundTrip: number }

const PING = '/kaisar-bench/ping-pong/1.0.0'
const MESSAGE = new Uint8Array(300)

async function dhtQueries (servers: number, queries: number, links: InProcessLinks | undefined): Promise<number> {
  const nodes: KaisarLibp2p[] = []
  try {
    for (let i = 0; i < servers; i++) nodes.push(await benchNode({ dhtServer: true, maxConnections: 4 * servers, metrics: false, inProcessLinks: links }))
    const first = nodes[0]?.getMultiaddrs()[0]
    if (first == null) throw new Error('the first server has no address')
    for (const node of nodes.slice(1)) await node.dial(first)
    for (const node of nodes) for await (const _ of node.services.dht.getClosestPeers(randomBytes(32))) { /* fills the routing tables */ }
    const before = process.cpuUsage()
    for (let q = 0; q < queries; q++) {
      for await (const _ of (nodes[q % nodes.length] as KaisarLibp2p).services.dht.getClosestPeers(randomBytes(32))) { /* drain */ }
    }
    const used = process.cpuUsage(before)
    return (used.user + used.system) / 1000 / queries
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
}

async function roundTrips (pings: number, links: InProcessLinks | undefined, clientLinks = links, beforeDial?: (server: KaisarLibp2p) => Promise<void>): Promise<number> {
  const nodes: KaisarLibp2p[] = []
  try {
    const server = await benchNode({ metrics: false, inProcessLinks: links })
    nodes.push(server)
    await server.handle(PING, (stream) => { stream.addEventListener('message', (evt) => { stream.send(evt.data) }) })
    const client = await benchNode({ listen: [], metrics: false, inProcessLinks: clientLinks })
    nodes.push(client)
    await beforeDial?.(server)
    const stream = await client.dialProtocol(server.getMultiaddrs()[0] as Multiaddr, PING)
    let left = pings
    const before = process.cpuUsage()
    await new Promise<void>((resolve) => {
      stream.addEventListener('message', () => { if (--left === 0) resolve(); else stream.send(MESSAGE) })
      stream.send(MESSAGE)
    })
    const used = process.cpuUsage(before)
    return (used.user + used.system) / pings
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
}

/** CPU µs per round trip between two processes' registries, joined by a trunk or not (TCP, plaintext). */
async function crossProcessRoundTrips (pings: number, trunked: boolean): Promise<{ us: number, trunkLinks: number }> {
  const server = new InProcessLinks()
  const client = new InProcessLinks()
  const ports = trunked ? [await openTrunkPort(server), await openTrunkPort(client)] : []
  try {
    await ports[1]?.connectTo([ports[0]?.port as number])
    // The server's address reaches the client's side over the trunk a moment after it listens.
    const announced = async (node: KaisarLibp2p): Promise<void> => {
      const key = tcpAddressKey(node.getMultiaddrs()[0] as Multiaddr) as string
      for (let i = 0; i < 200 && client.lookupTrunked(key) == null; i++) await new Promise(resolve => setTimeout(resolve, 10))
    }
    const us = await roundTrips(pings, server, client, trunked ? announced : undefined)
    return { us, trunkLinks: client.openedAcross }
  } finally {
    for (const p of ports) p.close()
  }
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const servers = positiveIntFlag(args, '--servers', 20)
  const queries = positiveIntFlag(args, '--queries', 150)
  const pings = positiveIntFlag(args, '--pings', 5000)
  const rounds = positiveIntFlag(args, '--rounds', 3)
  const inMemory: Round[] = []
  const kernel: Round[] = []
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first: the machine's speed drifts within minutes.
    for (const memory of r % 2 === 0 ? [true, false] : [false, true]) {
      const links = memory ? new InProcessLinks() : undefined
      const result = { cpuMsPerQuery: await dhtQueries(servers, queries, links), cpuUsPerRoundTrip: await roundTrips(pings, links) }
      if (links != null && links.opened === 0) throw new Error('no link was opened in memory')
      ;(memory ? inMemory : kernel).push(result)
      log(`round ${r + 1}/${rounds} ${memory ? 'in memory ' : 'kernel TCP'}: ${result.cpuMsPerQuery.toFixed(1)} CPU ms/query, ${result.cpuUsPerRoundTrip.toFixed(1)} CPU µs/round trip`)
    }
  }
  const trunk: number[] = []
  const plaintextTcp: number[] = []
  for (let r = 0; r < rounds; r++) {
    for (const trunked of r % 2 === 0 ? [true, false] : [false, true]) {
      const { us, trunkLinks } = await crossProcessRoundTrips(pings, trunked)
      if (trunked && trunkLinks !== 1) throw new Error(`the trunk carried ${trunkLinks} links, not the one dialled`)
      ;(trunked ? trunk : plaintextTcp).push(us)
      log(`round ${r + 1}/${rounds} across processes, ${trunked ? 'trunk        ' : 'plaintext TCP'}: ${us.toFixed(1)} CPU µs/round trip`)
    }
  }
  const q = median(inMemory.map(r => r.cpuMsPerQuery))
  const qKernel = median(kernel.map(r => r.cpuMsPerQuery))
  const rtt = median(inMemory.map(r => r.cpuUsPerRoundTrip))
  const rttKernel = median(kernel.map(r => r.cpuUsPerRoundTrip))
  return {
    servers,
    queries,
    pings,
    rounds,
    in_process_cpu_ms_per_query: round(q, 2),
    kernel_cpu_ms_per_query: round(qKernel, 2),
    query_in_process_vs_kernel: round(q / qKernel, 3),
    in_process_cpu_us_per_round_trip: round(rtt, 1),
    kernel_cpu_us_per_round_trip: round(rttKernel, 1),
    round_trip_in_process_vs_kernel: round(rtt / rttKernel, 3),
    trunk_cpu_us_per_round_trip: round(median(trunk), 1),
    plaintext_tcp_cpu_us_per_round_trip: round(median(plaintextTcp), 1),
    round_trip_trunk_vs_plaintext_tcp: round(median(trunk) / median(plaintextTcp), 3)
  }
}
