// A request that libp2p puts on a connection the remote is closing (its muxer closed, the
// connection still listed for a moment: what a peer's connection trimmer causes) goes again,
// once, on a new connection; any other failure to open the stream is not retried. A failed
// request says where it stopped: opening the stream, or waiting for the reply.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { pino } from 'pino'
import { z } from 'zod'
import { registerReqResp, request, RequestFailedError } from '../../node/network/reqresp.js'
import { startTestNode } from '../helpers/network.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { Multiaddr } from '@multiformats/multiaddr'

const ECHO = '/kaisar-test/echo-request/1.0.0'
const SLOW = '/kaisar-test/never-answers/1.0.0'
const tcp = { transport: 'tcp', websockets: false } as const

/** The moment between the remote closing a connection and this node dropping it from its list. */
function muxerClosedUnderneath (node: KaisarLibp2p, server: KaisarLibp2p): void {
  const [conn] = node.getConnections(server.peerId)
  if (conn == null) throw new Error('no connection to close')
  ;(conn as unknown as { muxer: { status: string } }).muxer.status = 'closed'
}

test('a request on a connection whose muxer just closed goes again on a new connection', async () => {
  const nodes: KaisarLibp2p[] = []
  try {
    const server = await startTestNode(nodes, { listen: ['/ip4/127.0.0.1/tcp/0'], ...tcp })
    await registerReqResp(server, { protocol: ECHO, schema: z.object({ n: z.number() }), handle: async (req) => ({ n: req.n + 1 }), logger: pino({ level: 'silent' }) })
    const client = await startTestNode(nodes, { listen: [], ...tcp })
    await client.dial(server.getMultiaddrs()[0] as Multiaddr)
    muxerClosedUnderneath(client, server)
    assert.equal(await request(client, server.peerId, ECHO, { n: 1 }, { timeoutMs: 5_000 }), { n: 2 })
    assert.ok(client.getConnections(server.peerId).some(c => (c as unknown as { muxer: { status: string } }).muxer.status === 'open'), 'no new connection')
    // Nothing answers this protocol: a refusal is not retried into success, and is reported.
    try {
      await request(client, server.peerId, '/kaisar-test/nobody/1.0.0', {}, { timeoutMs: 5_000 })
      assert.unreachable('an unsupported protocol succeeded')
    } catch (err) {
      assert.instance(err, RequestFailedError)
      assert.is((err as RequestFailedError).type.phase, 'open', 'refused while opening the stream')
    }
    // A remote that takes the request and never answers: the timeout is the reply's, not the connection's.
    await registerReqResp(server, { protocol: SLOW, schema: z.object({}), handle: async () => await new Promise(() => {}), logger: pino({ level: 'silent' }) })
    try {
      await request(client, server.peerId, SLOW, {}, { timeoutMs: 300 })
      assert.unreachable('a request without a reply succeeded')
    } catch (err) {
      assert.instance(err, RequestFailedError)
      assert.is((err as RequestFailedError).type.phase, 'reply')
      assert.match((err as Error).message, /waiting for the reply, \d+ ms after the request began/)
    }
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test.run()
