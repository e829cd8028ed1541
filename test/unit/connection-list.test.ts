// node/network/connection-list.ts: the linear listing gives exactly what libp2p's own gave.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestNode } from '../helpers/network.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

test('a node lists every connection once, in libp2p\'s own order, and a peer\'s alone', async () => {
  const nodes: KaisarLibp2p[] = []
  try {
    const hub = await startTestNode(nodes, { listen: [`/memory/conn-list-${process.pid}`] })
    const hubAddr = hub.getMultiaddrs()[0] as Multiaddr
    const spokes: KaisarLibp2p[] = []
    for (let i = 0; i < 5; i++) spokes.push(await startTestNode(nodes, { listen: [] }))
    for (const s of spokes) await s.dial(hubAddr)
    // A second connection to one peer: a peer's array holds more than one.
    await (spokes[0] as KaisarLibp2p).dial(hubAddr, { force: true })
    const map = (hub as unknown as { components: { connectionManager: { getConnectionsMap: () => { values: () => Iterable<Connection[]> } } } }).components.connectionManager.getConnectionsMap()
    const expected = [...map.values()].flat()
    assert.is(expected.length, 6, 'the test\'s network')
    assert.equal(hub.getConnections().map(c => c.id), expected.map(c => c.id))
    assert.equal(hub.getConnections((spokes[0] as KaisarLibp2p).peerId).map(c => c.id).sort(), expected.filter(c => c.remotePeer.equals((spokes[0] as KaisarLibp2p).peerId)).map(c => c.id).sort())
    assert.is(hub.getConnections((spokes[0] as KaisarLibp2p).peerId).length, 2)
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test.run()
