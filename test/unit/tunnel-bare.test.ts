// bench/tunnel-bare.ts, the tunnel bench's yardstick path: its ends must carry bytes exactly
// (the bench's sink checks only the count) and refuse a record whose tag does not match.
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { joinEnd, open, seal } from '../../bench/tunnel-bare.js'

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

test('a record with a wrong tag closes both sockets and writes nothing onward', async () => {
  const onward: Buffer[] = []
  const sink = await listen(s => { s.on('data', (d: Buffer) => onward.push(d)) })
  let closed!: Promise<void>
  const end = await listen(a => {
    const t = net.connect({ port: sink.port, host: '127.0.0.1' })
    closed = new Promise(resolve => a.once('close', () => resolve()))
    a.on('error', () => {})
    t.on('error', () => {})
    open(a, t)
  })
  let c: net.Socket | undefined
  try {
    // A genuine record from seal(), then one byte of its body flipped.
    const capture = await listen(s => { const bytes: Buffer[] = []; s.on('data', (d: Buffer) => bytes.push(d)); s.on('end', () => { s.end(Buffer.concat(bytes)) }) })
    const sealer = await listen(c => { const p = net.connect({ port: capture.port, host: '127.0.0.1', allowHalfOpen: true }); seal(c, p); p.pipe(c) })
    const record = await new Promise<Buffer>(resolve => {
      const c = net.connect({ port: sealer.port, host: '127.0.0.1', allowHalfOpen: true })
      const back: Buffer[] = []
      c.on('data', (d: Buffer) => back.push(d))
      c.on('end', () => { resolve(Buffer.concat(back)); c.destroy() })
      c.end(Buffer.from('hello, container'))
    })
    capture.close(); sealer.close()
    assert.is(record.readUInt16BE(0), record.byteLength - 2, 'one record: length prefix, body and tag')
    const forged = Buffer.from(record)
    forged[5] = (forged[5] as number) ^ 1
    c = net.connect({ port: end.port, host: '127.0.0.1' })
    c.on('error', () => {})
    c.write(forged)
    await Promise.race([closed, new Promise((_resolve, reject) => setTimeout(() => reject(new Error('the forged record did not close the connection')), 3_000))])
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.is(Buffer.concat(onward).byteLength, 0, 'plaintext of a forged record went onward')
  } finally {
    c?.destroy(); end.close(); sink.close()
  }
})

test.run()
