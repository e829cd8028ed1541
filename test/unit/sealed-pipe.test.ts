// node/network/sealed-pipe.ts: a dedicated tunnel's two ends, with a forwarder between them that
// the test controls (as the gateway's splice sits between them in the product):
//   client → user end (plaintext → records) → forwarder → provider end (records → plaintext) → target
// Bytes arrive exactly and in order both ways; a half-close passes through; a forwarder that cuts
// the records short or changes a byte makes both applications see a reset, not a clean end.
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { pipeSealed, type SealedPipeResult } from '../../node/network/sealed-pipe.js'
import { TUNNEL_SOCKET_OPTIONS } from '../../node/network/tunnel-pipe.js'
import { connect, listen, portOf } from '../helpers/tunnel.js'

const UP = randomBytes(32)
const DOWN = randomBytes(32)

interface Fixture {
  port: number
  userPipes: Array<Promise<SealedPipeResult>>
  providerPipes: Array<Promise<SealedPipeResult>>
  stop: () => Promise<void>
}

/**
 * Both ends and a forwarder; `forward(bytes, toProvider, upstream)` returns what to pass on
 * (default: the bytes as they are), or null to pass nothing.
 */
async function tunnel (targetPort: number, forward: (bytes: Buffer, toProvider: boolean, out: net.Socket) => Buffer | null = b => b): Promise<Fixture> {
  const sockets = new Set<net.Socket>()
  const track = (s: net.Socket): net.Socket => { sockets.add(s); s.on('error', () => {}); return s }
  const userPipes: Array<Promise<SealedPipeResult>> = []
  const providerPipes: Array<Promise<SealedPipeResult>> = []
  const provider = await listen(sealed => {
    track(sealed)
    providerPipes.push(pipeSealed(track(net.connect({ ...TUNNEL_SOCKET_OPTIONS, host: '127.0.0.1', port: targetPort })), sealed, { send: DOWN, receive: UP }))
  })
  const forwarder = await listen(fromUser => {
    track(fromUser)
    const toProvider = track(net.connect({ ...TUNNEL_SOCKET_OPTIONS, host: '127.0.0.1', port: portOf(provider) }))
    fromUser.on('data', (b: Buffer) => { const out = forward(b, true, toProvider); if (out != null && !toProvider.writableEnded) toProvider.write(out) })
    toProvider.on('data', (b: Buffer) => { const out = forward(b, false, fromUser); if (out != null && !fromUser.writableEnded) fromUser.write(out) })
    fromUser.on('end', () => { toProvider.end() })
    toProvider.on('end', () => { fromUser.end() })
    fromUser.on('close', () => { toProvider.destroy() })
    toProvider.on('close', () => { fromUser.destroy() })
  })
  const user = await listen(plain => {
    track(plain)
    userPipes.push(pipeSealed(plain, track(net.connect({ ...TUNNEL_SOCKET_OPTIONS, host: '127.0.0.1', port: portOf(forwarder) })), { send: UP, receive: DOWN }))
  })
  return {
    port: portOf(user),
    userPipes,
    providerPipes,
    stop: async () => {
      for (const s of sockets) s.destroy()
      for (const server of [user, forwarder, provider]) await new Promise(resolve => server.close(resolve))
    }
  }
}

/** `promise`, or a failure after `ms` (a pipe that missed a reset would otherwise hang the run). */
async function within<T> (ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what}: not within ${ms} ms`)) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

/** Reads a socket to its end: its bytes, and whether it ended cleanly or with a reset. */
async function drain (socket: net.Socket): Promise<{ bytes: Buffer, end: 'clean' | 'reset' }> {
  const got: Buffer[] = []
  socket.on('data', (d: Buffer) => got.push(d))
  return await new Promise(resolve => {
    let error: Error | undefined
    socket.on('error', err => { error = err })
    socket.once('close', () => { resolve({ bytes: Buffer.concat(got), end: error == null ? 'clean' : 'reset' }) })
  })
}

test('every byte back through an echo, in odd write sizes, and a clean end both ways', async () => {
  const echo = await listen(s => { s.on('error', () => {}); s.pipe(s) })
  const t = await tunnel(portOf(echo))
  try {
    const client = await connect(t.port)
    const sent = randomBytes(3 * 1024 * 1024 + 7)
    const back = drain(client)
    for (let off = 0, step = 1; off < sent.byteLength; off += step, step = (step * 7 + 3) % 200_001 + 1) client.write(sent.subarray(off, off + step))
    client.end()
    const { bytes, end } = await back
    assert.is(end, 'clean')
    assert.ok(bytes.equals(sent), `echoed ${bytes.byteLength} of ${sent.byteLength} bytes, or not in order`)
    const [u, p] = await Promise.all([t.userPipes[0], t.providerPipes[0]])
    assert.equal(u, { sent: sent.byteLength, received: sent.byteLength })
    assert.equal(p, { sent: sent.byteLength, received: sent.byteLength })
  } finally {
    await t.stop()
    echo.close()
  }
})

test('a half-close passes through: the answer comes after the request\'s end', async () => {
  // A target that answers only once the request ended (as an HTTP/1.0 server reading to EOF would).
  const target = await listen(s => {
    s.on('error', () => {})
    let n = 0
    s.on('data', (d: Buffer) => { n += d.byteLength })
    s.on('end', () => { s.end(`got ${n} bytes`) })
  })
  const t = await tunnel(portOf(target))
  try {
    const client = await connect(t.port)
    const answer = drain(client)
    client.end(randomBytes(100_000))
    const { bytes, end } = await answer
    assert.is(end, 'clean')
    assert.is(bytes.toString(), 'got 100000 bytes')
  } finally {
    await t.stop()
    target.close()
  }
})

test('records cut short by the forwarder (its FIN, no close record) reset both applications', async () => {
  let seenAtTarget!: Promise<{ bytes: Buffer, end: 'clean' | 'reset' }>
  const target = await listen(s => { seenAtTarget = drain(s) })
  let passed = 0
  const t = await tunnel(portOf(target), (bytes, toProvider, out) => {
    if (!toProvider) return bytes
    if (passed >= 50_000) return null
    passed += bytes.byteLength
    if (passed >= 50_000) setImmediate(() => { out.end() }) // the cut: a clean TCP end mid-stream
    return bytes
  })
  try {
    const client = await connect(t.port)
    const atClient = drain(client)
    client.write(randomBytes(200_000)) // not ended: the application is still sending
    const [c, target_] = await within(5_000, 'both ends closed', Promise.all([atClient, (async () => { while (seenAtTarget == null) await new Promise(resolve => setTimeout(resolve, 5)); return await seenAtTarget })()]))
    assert.is(target_.end, 'reset', 'the target must not see a clean end of a cut stream')
    assert.is(c.end, 'reset', 'nor the client')
    const p = await t.providerPipes[0] as SealedPipeResult
    assert.match(String(p.error?.message), /without its close record/)
  } finally {
    await t.stop()
    target.close()
  }
})

test('a byte changed by the forwarder resets both ends and the forged record reaches nobody', async () => {
  let seenAtTarget!: Promise<{ bytes: Buffer, end: 'clean' | 'reset' }>
  const target = await listen(s => { seenAtTarget = drain(s) })
  let at = 0
  const t = await tunnel(portOf(target), (bytes, toProvider) => {
    if (!toProvider) return bytes
    // One bit of the second record's body (the first is 1,000 bytes: 2 + 1,000 + 16 on the wire).
    const flip = 1018 + 2 + 500 - at
    at += bytes.byteLength
    if (flip >= 0 && flip < bytes.byteLength) { const copy = Buffer.from(bytes); copy[flip] = (copy[flip] as number) ^ 1; return copy }
    return bytes
  })
  try {
    const client = await connect(t.port)
    const atClient = drain(client)
    const first = Buffer.alloc(1000, 0x61)
    client.write(first)
    await new Promise(resolve => setTimeout(resolve, 50)) // so that the first write is a record of its own
    client.write(Buffer.alloc(2000, 0x62))
    const c = await within(5_000, 'the client closed', atClient)
    while (seenAtTarget == null) await new Promise(resolve => setTimeout(resolve, 5))
    const target_ = await within(5_000, 'the target closed', seenAtTarget)
    assert.is(c.end, 'reset')
    assert.is(target_.end, 'reset')
    assert.ok(target_.bytes.equals(first), `only the genuine record reached the target (${target_.bytes.byteLength} bytes)`)
    const p = await t.providerPipes[0] as SealedPipeResult
    assert.match(String(p.error?.message), /authentication tag/)
  } finally {
    await t.stop()
    target.close()
  }
})

test.run()
