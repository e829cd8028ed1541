// How a shard worker's gossip events reach the runner (sim/gossip-wire.ts, sim/shard.ts's
// GossipForwarder): compactly (each peer id once, then five numbers an event), replayed in order
// and in full, with one batch in flight at a time and a drain that waits for the last write.
import { serialize } from 'node:v8'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { GossipBatchReader, GossipBatchWriter, type GossipBatch } from '../../sim/gossip-wire.js'
import { GossipForwarder, type ShardMessage } from '../../sim/shard.js'
import type { GossipSink } from '../../sim/metrics.js'

const PROVIDER = '12D3KooWEzJ9sDjCS5Hvn66VCvMmkBAV8p8rDN233DZY6eWA5yfC'
const CHECKER = '12D3KooWDsiFFr9DSCds4bJrXHxg64asAMCgJNoUVhRBZoza7Dy'

/** A sink that writes down every event it hears, as a line. */
function recorder (): GossipSink & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    published: (p, seq, at) => { lines.push(`pub ${p} ${seq} ${at}`) },
    received: (p, seq, s, at) => { lines.push(`recv ${p} ${seq} ${s} ${at}`) },
    subscribed: (p, at) => { lines.push(`sub ${p} ${at}`) },
    unsubscribed: (p, at) => { lines.push(`unsub ${p} ${at}`) }
  }
}

test('events cross in order and in full, each peer id once', () => {
  const writer = new GossipBatchWriter()
  const sink = recorder()
  const reader = new GossipBatchReader(sink)
  const at = 1_795_476_909_694
  writer.subscribed(CHECKER, at)
  writer.published(PROVIDER, 0n, at + 1)
  writer.received(PROVIDER, 0n, CHECKER, at + 40)
  const first = writer.take() as GossipBatch
  assert.equal(first.peers, [CHECKER, PROVIDER])
  assert.is(writer.take(), undefined, 'nothing new, no batch')
  writer.published(PROVIDER, 1n, at + 1_000)
  writer.received(PROVIDER, 1n, CHECKER, at + 1_050)
  writer.unsubscribed(CHECKER, at + 2_000)
  const second = writer.take() as GossipBatch
  assert.equal(second.peers, [], 'known peers are not named again')
  reader.read(first)
  reader.read(second)
  assert.equal(sink.lines, [
    `sub ${CHECKER} ${at}`,
    `pub ${PROVIDER} 0 ${at + 1}`,
    `recv ${PROVIDER} 0 ${CHECKER} ${at + 40}`,
    `pub ${PROVIDER} 1 ${at + 1_000}`,
    `recv ${PROVIDER} 1 ${CHECKER} ${at + 1_050}`,
    `unsub ${CHECKER} ${at + 2_000}`
  ])
  assert.is(reader.dropped, 0)
})

test('a receipt costs ≤ 48 bytes on the channel, against ≈ 150 as an object with peer ids', () => {
  const writer = new GossipBatchWriter()
  const n = 1_000
  writer.subscribed(CHECKER, 0)
  writer.published(PROVIDER, 0n, 0)
  const warm = writer.take() as GossipBatch
  const objects: unknown[] = []
  for (let i = 0; i < n; i++) {
    writer.received(PROVIDER, BigInt(i), CHECKER, 1_795_476_909_694 + i)
    objects.push({ e: 'recv', publisher: PROVIDER, sequence: BigInt(i), subscriber: CHECKER, at: 1_795_476_909_694 + i })
  }
  const perReceipt = serialize({ gossip: writer.take() }).length / n
  const asObjects = serialize({ gossip: objects }).length / n
  assert.ok(warm.peers.length === 2)
  assert.ok(perReceipt <= 48, `${perReceipt} bytes a receipt`)
  assert.ok(asObjects >= 3 * perReceipt, `objects ${asObjects} against ${perReceipt} bytes a receipt`)
})

test('an event naming a peer no batch named is dropped and counted, the rest still read', () => {
  const sink = recorder()
  const reader = new GossipBatchReader(sink)
  reader.read({ peers: [PROVIDER], events: Float64Array.from([0, 0, 3, 0, 10, 1, 0, 3, 7, 20, 9, 0, 0, 0, 30]) })
  assert.equal(sink.lines, [`pub ${PROVIDER} 3 10`])
  assert.is(reader.dropped, 2, 'the receipt with subscriber 7 and the event of kind 9')
})

test('the forwarder keeps one batch in flight, and drain waits until everything seen was written', async () => {
  const sent: GossipBatch[] = []
  let ack: (() => void) | undefined
  const forwarder = new GossipForwarder((m: ShardMessage, written: () => void) => {
    assert.is(ack, undefined, 'a second batch while one is in flight')
    if ('gossip' in m) sent.push(m.gossip)
    ack = () => { ack = undefined; written() }
  })
  try {
    forwarder.sink.published(PROVIDER, 1n, 1)
    let drained = false
    const draining = forwarder.drain().then(() => { drained = true })
    assert.is(sent.length, 1, 'drain sends what is pending at once')
    forwarder.sink.published(PROVIDER, 2n, 2) // seen while the first batch is in flight
    await new Promise(resolve => setTimeout(resolve, 450)) // two timer ticks: still one in flight
    assert.is(sent.length, 1)
    assert.is(drained, false)
    ack?.()
    assert.is(sent.length, 2, 'the next batch goes once the first was written')
    await new Promise(resolve => setTimeout(resolve, 10))
    assert.is(drained, false, 'not drained while the second is in flight')
    ack?.()
    await draining
    const reader = new GossipBatchReader(recorder())
    for (const b of sent) reader.read(b)
    assert.is(reader.dropped, 0)
    assert.equal(sent.map(b => [...b.events].filter((_v, i) => i % 5 === 2)), [[1], [2]], 'sequences 1 then 2')
  } finally {
    forwarder.close()
  }
})

test.run()
