// The peer-store read cache (node/network/peer-store-read-cache.ts) serves only what the store
// holds: every write is seen by the next read, a load that overlapped a write is not kept, and
// callers get copies.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { cachePeerStoreReads } from '../../node/network/peer-store-read-cache.js'
import { startTestNode } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { PeerId } from '@libp2p/interface'

async function setup (): Promise<{ node: Libp2p, peer: PeerId, clock: { t: number }, stats: ReturnType<typeof cachePeerStoreReads> }> {
  const node = await createLibp2p({ start: false })
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const clock = { t: 1_000_000 }
  const stats = cachePeerStoreReads(node.peerStore, 2_000, () => clock.t)
  return { node, peer, clock, stats }
}

const A = multiaddr('/ip4/10.0.0.1/tcp/4001')
const B = multiaddr('/ip4/10.0.0.2/tcp/4001')
const addrs = async (node: Libp2p, peer: PeerId): Promise<string[]> => (await node.peerStore.getInfo(peer)).multiaddrs.map(a => a.toString()).sort()

test('repeated reads within the ttl load once; after it the store is read again', async () => {
  const { node, peer, clock, stats } = await setup()
  await node.peerStore.merge(peer, { multiaddrs: [A], protocols: ['/a/1.0.0'] })
  for (let i = 0; i < 5; i++) assert.equal(await addrs(node, peer), [A.toString()])
  assert.equal({ ...stats }, { hits: 4, joined: 0, loads: 1 })
  clock.t += 2_000
  await node.peerStore.get(peer)
  assert.is(stats.loads, 2)
})

test('every write is seen by the next read: merge, patch, save, consumePeerRecord, delete', async () => {
  const { node, peer } = await setup()
  await node.peerStore.merge(peer, { multiaddrs: [A] })
  assert.equal(await addrs(node, peer), [A.toString()])
  await node.peerStore.merge(peer, { multiaddrs: [B] })
  assert.equal(await addrs(node, peer), [A.toString(), B.toString()])
  await node.peerStore.patch(peer, { multiaddrs: [B] })
  assert.equal(await addrs(node, peer), [B.toString()])
  await node.peerStore.save(peer, { multiaddrs: [A], protocols: ['/x/1.0.0'] })
  assert.equal((await node.peerStore.get(peer)).protocols, ['/x/1.0.0'])
  await node.peerStore.delete(peer)
  try {
    await node.peerStore.get(peer)
    assert.unreachable('a deleted peer was served from the cache')
  } catch (err) {
    assert.is((err as Error).name, 'NotFoundError')
  }
})

test('concurrent reads share one load; a load that overlapped a write is not kept', async () => {
  const { node, peer, stats } = await setup()
  await node.peerStore.merge(peer, { multiaddrs: [A] })
  const [x, y] = await Promise.all([node.peerStore.get(peer), node.peerStore.get(peer)])
  assert.equal({ loads: stats.loads, joined: stats.joined }, { loads: 1, joined: 1 })
  assert.equal(x.addresses.length, 1)
  assert.equal(y.addresses.length, 1)
  // Start a fresh load, then write while it runs: its (old) answer goes to its caller only.
  await node.peerStore.merge(peer, { protocols: ['/drop-kept/1.0.0'] })
  const during = node.peerStore.get(peer)
  await node.peerStore.patch(peer, { multiaddrs: [B] })
  await during
  assert.equal(await addrs(node, peer), [B.toString()])
})

test('callers get copies: mutating one changes nothing kept', async () => {
  const { node, peer } = await setup()
  await node.peerStore.merge(peer, { multiaddrs: [A], protocols: ['/a/1.0.0'], tags: { t: { value: 1 } } })
  const first = await node.peerStore.get(peer)
  first.addresses.length = 0
  first.protocols.push('/mutated/1.0.0')
  first.tags.clear()
  const second = await node.peerStore.get(peer)
  assert.is(second.addresses.length, 1)
  assert.equal(second.protocols, ['/a/1.0.0'])
  assert.is(second.tags.get('t')?.value, 1)
})

test('a caller whose signal aborts stops waiting; the shared load still serves the others', async () => {
  const { node, peer, stats } = await setup()
  await node.peerStore.merge(peer, { multiaddrs: [A] })
  const controller = new AbortController()
  const aborted = node.peerStore.get(peer, { signal: controller.signal })
  const other = node.peerStore.get(peer)
  controller.abort(new Error('gave up'))
  await aborted.then(() => assert.unreachable('the aborted read resolved'), (err: Error) => { assert.is(err.message, 'gave up') })
  assert.is((await other).addresses.length, 1)
  assert.is(stats.loads, 1)
})

// The regression that once made this cache be reverted: with it, a DHT client without a listen
// address never added its server to its routing table (the server's ping handler started inside
// the stream race that node/network/stream-read-end.ts closes, so kad-dht's ping of the new
// contact never got its echo). Real nodes as the simulator runs them, cache on (the default).
test('a DHT client with no listen address adds the server it dialled to its routing table', async () => {
  const nodes: KaisarLibp2p[] = []
  try {
    const make = async (listen: string[], dhtServer: boolean): Promise<KaisarLibp2p> => await startTestNode(nodes, { listen, dhtServer })
    const server = await make([`/memory/read-cache-dht-${process.pid}`], true)
    const client = await make([], false)
    const address = server.getMultiaddrs()[0]
    if (address == null) throw new Error('the server has no address')
    await client.dial(address)
    const table = (client.services.dht as unknown as { routingTable: { size: number } }).routingTable
    await waitFor('the client\'s routing table to hold the server (kad-dht\'s ping of its first contact must get an echo)', () => table.size > 0, 6_000, 50)
    assert.is(table.size, 1)
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test.run()
