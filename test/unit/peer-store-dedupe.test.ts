// The peer-store merge dedupe (node/network/peer-store-dedupe.ts) skips only true repeats: what
// the store holds after any sequence of merges, patches and deletes is what libp2p's own store
// would hold without it.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { dedupePeerStoreMerges } from '../../node/network/peer-store-dedupe.js'
import type { PeerId } from '@libp2p/interface'

async function setup (): Promise<{ node: Libp2p, peer: PeerId, clock: { t: number }, stats: ReturnType<typeof dedupePeerStoreMerges> }> {
  const node = await createLibp2p({ start: false })
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const clock = { t: 1_000_000 }
  const stats = dedupePeerStoreMerges(node.peerStore, 60_000, () => clock.t)
  return { node, peer, clock, stats }
}

test('a repeated protocol merge within the ttl reads instead of writing, and returns the stored peer', async () => {
  const { node, peer, stats } = await setup()
  await node.peerStore.merge(peer, { protocols: ['/a/1.0.0'] })
  const again = await node.peerStore.merge(peer, { protocols: ['/a/1.0.0'] })
  assert.equal({ ...stats }, { written: 1, skipped: 1 })
  assert.equal(again.protocols, ['/a/1.0.0'])
  // A different protocol is not a repeat.
  await node.peerStore.merge(peer, { protocols: ['/b/1.0.0'] })
  assert.is(stats.written, 2)
  assert.equal((await node.peerStore.get(peer)).protocols.sort(), ['/a/1.0.0', '/b/1.0.0'])
})

test('a patch that drops a protocol makes the next merge of it write again', async () => {
  const { node, peer, stats } = await setup()
  await node.peerStore.merge(peer, { protocols: ['/a/1.0.0'] })
  await node.peerStore.patch(peer, { protocols: ['/other/1.0.0'] })
  await node.peerStore.merge(peer, { protocols: ['/a/1.0.0'] })
  assert.is(stats.skipped, 0)
  assert.equal((await node.peerStore.get(peer)).protocols.sort(), ['/a/1.0.0', '/other/1.0.0'])
})

test('a patch racing a merge leaves the merge unremembered', async () => {
  const { node, peer, stats } = await setup()
  await node.peerStore.merge(peer, { protocols: ['/seed/1.0.0'] })
  // Both queue for the peer's write lock; the patch runs after the merge and undoes it.
  const merged = node.peerStore.merge(peer, { protocols: ['/a/1.0.0'] })
  const patched = node.peerStore.patch(peer, { protocols: ['/other/1.0.0'] })
  await Promise.all([merged, patched])
  await node.peerStore.merge(peer, { protocols: ['/a/1.0.0'] })
  assert.is(stats.skipped, 0)
  assert.ok((await node.peerStore.get(peer)).protocols.includes('/a/1.0.0'))
})

test('address merges repeat by address set, expire after the ttl, and a deleted peer is written again', async () => {
  const { node, peer, clock, stats } = await setup()
  const addrs = [multiaddr('/ip4/10.0.0.1/tcp/4001'), multiaddr('/ip4/10.0.0.2/tcp/4001')]
  await node.peerStore.merge(peer, { multiaddrs: addrs })
  await node.peerStore.merge(peer, { multiaddrs: [...addrs].reverse() })
  assert.equal({ ...stats }, { written: 1, skipped: 1 })
  clock.t += 60_001
  await node.peerStore.merge(peer, { multiaddrs: addrs })
  assert.is(stats.written, 2)
  await node.peerStore.delete(peer)
  await node.peerStore.merge(peer, { multiaddrs: addrs })
  assert.is(stats.written, 3)
  assert.is((await node.peerStore.get(peer)).addresses.length, 2)
})

test('merges of other shapes (tags, several fields) always write', async () => {
  const { node, peer, stats } = await setup()
  for (let i = 0; i < 2; i++) await node.peerStore.merge(peer, { tags: { t: { value: 1 } } })
  for (let i = 0; i < 2; i++) await node.peerStore.merge(peer, { protocols: ['/a/1.0.0'], multiaddrs: [multiaddr('/ip4/10.0.0.1/tcp/1')] })
  assert.equal({ ...stats }, { written: 4, skipped: 0 })
})

test.run()
