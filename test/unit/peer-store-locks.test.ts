// Two libp2p nodes in one process (as in the simulator) each lock their own peer-store records:
// one node holding its write lock on peer X does not hold up the other node's writes about X,
// and still orders its own. Without isolatePeerStoreLocks both nodes share mortice's lock named
// by X's id, and the second node's merge waits for the first node's release.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { isolatePeerStoreLocks } from '../../node/network/peer-store-locks.js'
import { startTestNode } from '../helpers/network.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { PeerId } from '@libp2p/interface'

type Release = () => void
function writeLock (node: KaisarLibp2p, peer: PeerId): Promise<Release> {
  return (node.peerStore as unknown as { store: { getWriteLock: (p: PeerId) => Promise<Release> } }).store.getWriteLock(peer)
}

/** 'done' if `p` settles within `ms`, else 'waiting'. */
async function within (p: Promise<unknown>, ms: number): Promise<'done' | 'waiting'> {
  let timer: NodeJS.Timeout | undefined
  const waiting = new Promise<'waiting'>(resolve => { timer = setTimeout(() => { resolve('waiting') }, ms) })
  try {
    return await Promise.race([p.then(() => 'done' as const), waiting])
  } finally {
    clearTimeout(timer)
  }
}

test('a node holding its lock on peer X does not hold up another node of the process, and still orders its own writes', async () => {
  const nodes: KaisarLibp2p[] = []
  try {
    const a = await startTestNode(nodes, { listen: [] })
    const b = await startTestNode(nodes, { listen: [] })
    const x = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const addr = (port: number): { multiaddrs: ReturnType<typeof multiaddr>[] } => ({ multiaddrs: [multiaddr(`/ip4/10.0.0.1/tcp/${port}`)] })
    await a.peerStore.merge(x, addr(1))
    await b.peerStore.merge(x, addr(1))

    const release = await writeLock(a, x)
    const otherNode = b.peerStore.merge(x, addr(2))
    const sameNode = a.peerStore.merge(x, addr(3))
    assert.is(await within(otherNode, 2_000), 'done', 'the other node\'s write waited for this node\'s lock')
    assert.is(await within(sameNode, 200), 'waiting', 'this node\'s own write did not wait for its lock')
    release()
    assert.is(await within(sameNode, 2_000), 'done')
    assert.ok((await a.peerStore.get(x)).addresses.some(a => a.multiaddr.toString().endsWith('/tcp/3')))
    assert.ok((await b.peerStore.get(x)).addresses.some(a => a.multiaddr.toString().endsWith('/tcp/2')))
    // createNetwork made the change above; this says the installed @libp2p/peer-store still has what it replaces.
    assert.ok(isolatePeerStoreLocks(a.peerStore, a.peerId.toString()), 'the peer store\'s internals moved')
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test.run()
