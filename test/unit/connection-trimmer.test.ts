// The idle-connection trimmer (node/network/connection-trimmer.ts): a node that many peers
// dialled once keeps accepting new peers, because the idle connections are closed before the
// cap; a connection with an open stream or to a keep-alive peer is never closed.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { KEEP_ALIVE } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { ConnectionTrimmer } from '../../node/network/connection-trimmer.js'
import { startTestNode } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { Multiaddr } from '@multiformats/multiaddr'

const HOLD = '/kaisar-test/hold/1.0.0'
const CAP = 10

/** A server with a cap of 10 (trims at 9 down to 7 with `trim`), and `clients` nodes that each dial it once, one after another. */
async function dialOnce (nodes: KaisarLibp2p[], name: string, clients: number, trim: boolean): Promise<{ server: KaisarLibp2p, refused: number }> {
  const server = await startTestNode(nodes, {
    listen: [`/memory/trimmer-${name}-${process.pid}`],
    maxConnections: CAP,
    // Disabled in effect by a grace period longer than the test: the stock behaviour.
    connectionTrimmer: { gracePeriodMs: trim ? 0 : 3_600_000, intervalMs: 50 }
  })
  const addr = server.getMultiaddrs()[0] as Multiaddr
  let refused = 0
  for (let i = 0; i < clients; i++) {
    const client = await startTestNode(nodes, { listen: [] })
    try {
      await client.dial(addr, { signal: AbortSignal.timeout(3_000) })
    } catch {
      refused++
    }
    // The trimmer runs on `connection:open`; give it the turn it needs before the next dial.
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return { server, refused }
}

test('a node dialled once by 3× its cap of peers accepts every one of them; without trimming the cap refuses some', async () => {
  const nodes: KaisarLibp2p[] = []
  try {
    const { server, refused } = await dialOnce(nodes, 'on', 3 * CAP, true)
    assert.is(refused, 0, `${refused} of ${3 * CAP} dials refused with the trimmer`)
    const open = server.getConnections().length
    assert.ok(open < CAP, `${open} connections open, cap ${CAP}`)
    assert.ok(server.services.trimmer.trimmed >= 2 * CAP, `trimmed ${server.services.trimmer.trimmed}`)
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
  const stock: KaisarLibp2p[] = []
  try {
    const { refused } = await dialOnce(stock, 'off', 3 * CAP, false)
    assert.ok(refused >= CAP, `only ${refused} of ${3 * CAP} dials refused without trimming: the test no longer shows the problem`)
  } finally {
    await Promise.all(stock.map(async n => { await n.stop() }))
  }
})

test('connections with an open stream and keep-alive peers are not trimmed', async () => {
  const nodes: KaisarLibp2p[] = []
  try {
    const server = await startTestNode(nodes, { listen: [`/memory/trimmer-keep-${process.pid}`], maxConnections: CAP, connectionTrimmer: { gracePeriodMs: 0, intervalMs: 3_600_000 } })
    // The handler keeps every stream open until the test ends.
    const held: Array<{ abort: (err: Error) => void }> = []
    await server.handle(HOLD, (stream) => { held.push(stream) })
    const addr = server.getMultiaddrs()[0] as Multiaddr
    const busy: KaisarLibp2p[] = []
    for (let i = 0; i < 3; i++) {
      const client = await startTestNode(nodes, { listen: [] })
      await client.dialProtocol(addr, HOLD)
      busy.push(client)
    }
    const kept = await startTestNode(nodes, { listen: [] })
    await kept.dial(addr)
    await server.peerStore.merge(kept.peerId, { tags: { [`${KEEP_ALIVE}-test`]: { value: 1 } } })
    const idle: KaisarLibp2p[] = []
    for (let i = 0; i < 5; i++) {
      const client = await startTestNode(nodes, { listen: [] })
      await client.dial(addr)
      idle.push(client)
    }
    // The ninth connection reached the high water mark (9 of 10): the trimmer closes idle
    // connections down to the low water mark, 7, and only the idle ones qualify.
    await waitFor('the trimmer down to 7 connections', () => server.getConnections().length <= 7, 2_000, 20)
    assert.is(server.getConnections().length, 7, `${server.getConnections().length} connections open`)
    assert.is(server.services.trimmer.trimmed, 2, `trimmed ${server.services.trimmer.trimmed}`)
    for (const c of busy) assert.is(server.getConnections(c.peerId).length, 1, 'a connection with an open stream was trimmed')
    assert.is(server.getConnections(kept.peerId).length, 1, 'a keep-alive peer was trimmed')
    assert.is(idle.filter(c => server.getConnections(c.peerId).length === 0).length, 2)
    for (const s of held) s.abort(new Error('test over'))
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test('water marks out of order are a clear error', () => {
  // The constructor only takes a logger from its components.
  const components = { logger: defaultLogger() } as unknown as ConstructorParameters<typeof ConnectionTrimmer>[0]
  assert.throws(() => new ConnectionTrimmer(components, { lowWater: 0.9, highWater: 0.8 }), /lowWater < highWater/)
  assert.throws(() => new ConnectionTrimmer(components, { highWater: 1.5 }), /highWater <= 1/)
})

test.run()
