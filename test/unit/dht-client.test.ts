// A DHT client tags none of its closest peers keep-alive (node/network/dht-client.ts); a
// server still does, so the test's network does show the tagging it checks for.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestNode } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { Multiaddr } from '@multiformats/multiaddr'

const KAD_KEEP_ALIVE = 'keep-alive-kad-dht'

async function keepAliveTagged (node: KaisarLibp2p): Promise<number> {
  const peers = await node.peerStore.all()
  return peers.filter(p => p.tags.has(KAD_KEEP_ALIVE)).length
}

test('a DHT client keeps no closest peer alive; a server keeps its closest', async () => {
  const nodes: KaisarLibp2p[] = []
  try {
    const servers: KaisarLibp2p[] = []
    for (let i = 0; i < 4; i++) servers.push(await startTestNode(nodes, { listen: [`/memory/dht-client-${process.pid}-${i}`], dhtServer: true }))
    const first = servers[0]?.getMultiaddrs()[0] as Multiaddr
    for (const s of servers.slice(1)) await s.dial(first)
    const client = await startTestNode(nodes, { listen: [] })
    const clientStarted = Date.now()
    for (const s of servers) await client.dial(s.getMultiaddrs()[0] as Multiaddr)
    // kad-dht re-tags its closest peers every 5 s: a server's tags show the test's network does tag.
    await waitFor('a server tagging its closest peers (else the test shows nothing)', async () => await keepAliveTagged(servers[1] as KaisarLibp2p) > 0, 12_000, 250)
    // ... and for the client's own first round, 5 s after it started.
    await new Promise(resolve => setTimeout(resolve, Math.max(0, clientStarted + 6_000 - Date.now())))
    assert.is(await keepAliveTagged(client), 0, 'the client tagged closest peers keep-alive')
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

/** Counts the walks (`getClosestPeers`: self-queries and any other) `node` starts from now on. */
function countWalks (node: KaisarLibp2p): { count: number } {
  const routing = (node.services.dht as unknown as { peerRouting: { getClosestPeers: (...args: unknown[]) => unknown } }).peerRouting
  const walk = routing.getClosestPeers.bind(routing)
  const walks = { count: 0 }
  routing.getClosestPeers = (...args: unknown[]) => { walks.count++; return walk(...args) }
  return walks
}

test('network.dhtSelfQueryMs sets how often a node walks the DHT on its own (its self-query)', async () => {
  const nodes: KaisarLibp2p[] = []
  try {
    const servers: KaisarLibp2p[] = []
    for (let i = 0; i < 3; i++) servers.push(await startTestNode(nodes, { listen: [`/memory/dht-self-query-${process.pid}-${i}`], dhtServer: true }))
    const first = servers[0]?.getMultiaddrs()[0] as Multiaddr
    for (const s of servers.slice(1)) await s.dial(first)
    const often = await startTestNode(nodes, { listen: [], dhtSelfQueryMs: 10_000 })
    const stock = await startTestNode(nodes, { listen: [] })
    for (const client of [often, stock]) for (const s of servers) await client.dial(s.getMultiaddrs()[0] as Multiaddr)
    // Past the first self-query (0.5 s after start).
    await new Promise(resolve => setTimeout(resolve, 3_000))
    const oftenWalks = countWalks(often)
    const stockWalks = countWalks(stock)
    await waitFor('the 10 s node walking again', () => oftenWalks.count > 0, 15_000, 250)
    assert.is(stockWalks.count, 0, 'a node at kad-dht\'s 5 min walked again within 15 s')
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test.run()
