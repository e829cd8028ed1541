// Gossipsub's message ids (node/network/gossip/message-id.ts): the spec'ed id stays SHA-256's
// first 20 bytes (peers of other versions must agree on it), the fast id tells every changed byte
// apart and depends on the node's seed, and a node built by createNetwork drops a second copy of a
// message on the fast id alone, without computing the SHA-256 id again.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { gossipMessageIds, messageId } from '../../node/network/gossip/message-id.js'
import { startTestNode } from '../helpers/network.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { PeerId } from '@libp2p/interface'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

test('the spec\'ed id is the first 20 bytes of SHA-256 of the data', () => {
  // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad (FIPS 180-2).
  assert.is(hex(messageId({ data: Buffer.from('abc') })), 'ba7816bf8f01cfea414140de5dae2223b00361a3')
})

test('the fast id: equal for equal data, different for any changed byte, and seeded', async () => {
  const ids = await gossipMessageIds(7n)
  const data = new Uint8Array(8192).map((_, i) => i * 31)
  const id = ids.fastMsgIdFn({ data })
  assert.is(ids.fastMsgIdFn({ data: data.slice() }), id, 'a copy has the same id')
  for (const at of [0, 4096, 8191]) {
    const changed = data.slice()
    changed[at] = (changed[at] ?? 0) ^ 1
    assert.is.not(ids.fastMsgIdFn({ data: changed }), id, `byte ${at} changed`)
  }
  assert.is.not(ids.fastMsgIdFn({ data: data.subarray(0, 8191) }), id, 'one byte shorter')
  assert.is.not((await gossipMessageIds(8n)).fastMsgIdFn({ data }), id, 'another seed, another id')
  assert.is(ids.fastMsgIdFn({}), ids.fastMsgIdFn({ data: new Uint8Array(0) }), 'no data reads as empty data, as gossipsub does')
})

/** The part of gossipsub's receive path this test drives (private in its types). */
interface GossipsubReceive {
  msgIdFn: (msg: { data: Uint8Array }) => Uint8Array | Promise<Uint8Array>
  validateReceivedMessage: (from: PeerId, msg: { topic: string, data?: Uint8Array }) => Promise<{ code: string }>
}

test('a node drops a second copy on the fast id, before the SHA-256 id', async () => {
  const nodes: KaisarLibp2p[] = []
  try {
    const node = await startTestNode(nodes, { listen: [`/memory/message-id-${process.pid}`] })
    const sender = await startTestNode(nodes, { listen: [`/memory/message-id-sender-${process.pid}`] })
    const pubsub = node.services.pubsub as unknown as GossipsubReceive
    const specIdFn = pubsub.msgIdFn
    let specIds = 0
    pubsub.msgIdFn = async msg => { specIds++; return await specIdFn(msg) }
    const copy = { topic: 'kaisar-test', data: new Uint8Array(8192).fill(5) }
    const first = await pubsub.validateReceivedMessage(sender.peerId, copy)
    const second = await pubsub.validateReceivedMessage(sender.peerId, { ...copy, data: copy.data.slice() })
    assert.is(first.code, 'valid')
    assert.is(second.code, 'duplicate')
    assert.is(specIds, 1, 'the SHA-256 id was computed for the first copy only')
    const other = await pubsub.validateReceivedMessage(sender.peerId, { ...copy, data: new Uint8Array(8192).fill(6) })
    assert.is(other.code, 'valid', 'a different message is not taken for a copy')
    assert.is(specIds, 2)
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test.run()
