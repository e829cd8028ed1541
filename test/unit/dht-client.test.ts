// A DHT client tags none of its closest peers keep-alive (node/network/dht-client.ts); a
// server still does, so the test's network does show the tagging it checks for.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestNode } from '../helpers/network.js'
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
    // kad-dht re-tags its closest peers every 5 s; wait for the servers' tags (or 12 s).
    const deadline = Date.now() + 12_000
    let serverTags = 0
    while (Date.now() < deadline) {
      serverTags = await keepAliveTagged(servers[1] as KaisarLibp2p)
      if (serverTags > 0) break
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    assert.ok(serverTags > 0, 'no server tagged a closest peer: the test shows nothing')
    // ... and for the client's own first round, 5 s after it started.
    await new Promise(resolve => setTimeout(resolve, Math.max(0, clientStarted + 6_000 - Date.now())))
    assert.is(await keepAliveTagged(client), 0, 'the client tagged closest peers keep-alive')
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test.run()
