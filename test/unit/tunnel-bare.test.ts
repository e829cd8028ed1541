// bench/tunnel-bare.ts, the tunnel bench's yardstick path: its ends must carry bytes exactly (the
// bench's sink checks only the count). Forged and cut records: test/unit/sealed-pipe.test.ts.
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { joinEnd } from '../../bench/tunnel-bare.js'

/** A loopback server; `close()` also destroys what it accepted, so a failed test leaves nothing open. */
async function listen (onSocket: (s: net.Socket) => void): Promise<{ close: () => void, port: number }> {
  const accepted = new Set<net.Socket>()
  const server = net.createServer({ allowHalfOpen: true }, s => { accepted.add(s); onSocket(s) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { close: () => { server.close(); for (const s of accepted) s.destroy() }, port: (server.address() as net.AddressInfo).port }
}

test('user end → provider end → echo: every byte back, in order, across reads that split records', async () => {
  const echo = await listen(s => { s.on('error', () => {}); s.pipe(s) })
  const provider = await listen(a => { joinEnd(a, net.connect({ port: echo.port, host: '127.0.0.1', allowHalfOpen: true }), 'next') })
  const user = await listen(c => { joinEnd(c, net.connect({ port: provider.port, host: '127.0.0.1', allowHalfOpen: true }), 'accepted') })
  try {
    const sent = randomBytes(700 * 1024 + 13)
    const client = net.connect({ port: user.port, host: '127.0.0.1', allowHalfOpen: true })
    const got: Buffer[] = []
    client.on('data', (d: Buffer) => got.push(d))
    client.on('error', () => {})
    // 'close', not 'end': a tunnel that broke must fail the comparison below, not hang the test.
    const ended = new Promise<void>(resolve => client.once('close', () => resolve()))
    // Odd write sizes, so records and reads fall on every kind of boundary.
    for (let off = 0, step = 1; off < sent.byteLength; off += step, step = (step * 7 + 3) % 90_001 + 1) client.write(sent.subarray(off, off + step))
    client.end()
    await ended
    assert.ok(Buffer.concat(got).equals(sent), 'echoed bytes differ from those sent')
    client.destroy()
  } finally {
    for (const s of [user, provider, echo]) s.close()
  }
})

test.run()
