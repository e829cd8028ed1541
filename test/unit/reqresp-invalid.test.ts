// What a reqresp handler answers to bytes that are not a request: garbage is MALFORMED and
// counted as invalid input; a request that does not arrive in time is REQUEST_NOT_RECEIVED and
// is not (a 1,000-node simulator run logged busy requesters' timeouts as "not valid JSON").
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { lpStream } from '@libp2p/utils'
import { pino } from 'pino'
import { z } from 'zod'
import { registerReqResp } from '../../node/network/reqresp.js'
import { startTestNode } from '../helpers/network.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { Multiaddr } from '@multiformats/multiaddr'

const PROTOCOL = '/kaisar-test/invalid-request/1.0.0'

test('garbage is MALFORMED and counted; a request that never comes is REQUEST_NOT_RECEIVED and not counted', async () => {
  const nodes: KaisarLibp2p[] = []
  try {
    const server = await startTestNode(nodes, { listen: ['/ip4/127.0.0.1/tcp/0'], transport: 'tcp', websockets: false })
    const invalid: string[] = []
    await registerReqResp(server, { protocol: PROTOCOL, schema: z.object({ n: z.number() }), handle: async (req) => req.n, timeoutMs: 300, onInvalid: r => { invalid.push(r) }, logger: pino({ level: 'silent' }) })
    const client = await startTestNode(nodes, { listen: [], transport: 'tcp', websockets: false })
    const reply = async (send?: Uint8Array): Promise<{ ok: boolean, error?: { code: string } }> => {
      const lp = lpStream(await client.dialProtocol(server.getMultiaddrs()[0] as Multiaddr, PROTOCOL))
      if (send != null) await lp.write(send)
      return JSON.parse(Buffer.from((await lp.read({ signal: AbortSignal.timeout(5_000) })).subarray()).toString('utf8'))
    }
    const garbage = await reply(new TextEncoder().encode('{not json'))
    assert.is(garbage.error?.code, 'MALFORMED')
    assert.equal(invalid, ['malformed'])
    const silent = await reply()
    assert.is(silent.error?.code, 'REQUEST_NOT_RECEIVED')
    assert.equal(invalid, ['malformed'], 'a request that did not arrive is not invalid input')
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test.run()
