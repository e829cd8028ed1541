// pipeSocketStream over the real byte path: application socket → user node's local port →
// /kaisar/tunnel/1.0.0 (TCP + Noise + Yamux, tuned as createNetwork builds it) → provider node
// → TCP target. Byte-exactness both ways, half-close both ways, bounded buffering under a
// reader that stops, resets crossing over, and no listeners left behind.
import { createHash, randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { YAMUX_WINDOW } from '../../node/network/libp2p.js'
import { connect, listen, portOf, startTunnel } from '../helpers/tunnel.js'
import type net from 'node:net'
import type { Stream } from '@libp2p/interface'

const MiB = 1024 * 1024

/** `total` bytes: a 1 MiB random block, each MiB stamped with its index so no two are equal. */
function* payload (total: number): Generator<Buffer> {
  const block = randomBytes(MiB)
  for (let i = 0; i * MiB < total; i++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(MiB, total - i * MiB)))
    chunk.writeUInt32BE(i, 0)
    yield chunk
  }
}

async function writeAll (socket: net.Socket, chunks: Iterable<Buffer>, hash: ReturnType<typeof createHash>): Promise<void> {
  for (const chunk of chunks) {
    hash.update(chunk)
    if (!socket.write(chunk)) await new Promise(resolve => socket.once('drain', resolve))
  }
}

const EVENTS = ['message', 'drain', 'end', 'close', 'remoteCloseWrite'] as const
const SOCKET_EVENTS = ['data', 'end', 'drain', 'error', 'close'] as const
function streamListeners (s: Stream): number[] {
  const target = s as unknown as { listenerCount: (type: string) => number }
  return EVENTS.map(e => target.listenerCount(e))
}
const socketListeners = (s: net.Socket): number[] => SOCKET_EVENTS.map(e => s.listenerCount(e))

test('64 MiB of random data through the tunnel and back arrive byte for byte (sha256), both ways at once', async () => {
  let targetSocket: net.Socket | undefined
  const echo = await listen(sock => { targetSocket = sock; sock.pipe(sock) })
  const tunnel = await startTunnel(portOf(echo))
  try {
    const client = await connect(tunnel.port)
    const sent = createHash('sha256')
    const received = createHash('sha256')
    let receivedBytes = 0
    client.on('data', (d: Buffer) => { received.update(d); receivedBytes += d.byteLength })
    const ended = new Promise(resolve => client.once('end', resolve))
    await writeAll(client, payload(64 * MiB), sent)
    client.end()
    await ended
    assert.is(receivedBytes, 64 * MiB)
    assert.is(received.digest('hex'), sent.digest('hex'))
    client.destroy()

    const [userResult, providerResult] = await Promise.all([tunnel.userPipes[0], tunnel.providerPipes[0]])
    assert.equal(userResult, { socketToStream: 64 * MiB, streamToSocket: 64 * MiB })
    assert.equal(providerResult, { socketToStream: 64 * MiB, streamToSocket: 64 * MiB })
    assert.ok(targetSocket != null)
  } finally {
    await tunnel.stop()
    echo.close()
  }
})

test('pipe leaves no listeners on the socket or the stream', async () => {
  const echo = await listen(sock => { sock.pipe(sock) })
  const tunnel = await startTunnel(portOf(echo))
  try {
    const client = await connect(tunnel.port)
    client.end('ping')
    for await (const _ of client) { /* drain */ }
    const result = await tunnel.providerPipes[0]
    assert.equal(result, { socketToStream: 4, streamToSocket: 4 })
    // The pipe's listeners are removed; libp2p's own ('drain' and 'close' listeners that
    // AbstractMessageStream adds for itself) are not ours to count: compare against a fresh stream.
    const stream = tunnel.providerStreams[0] as Stream
    const fresh = await tunnel.user.dialProtocol(tunnel.provider.getMultiaddrs()[0] as never, '/kaisar/tunnel/1.0.0')
    const pipeless = streamListeners(fresh)
    fresh.abort(new Error('test done'))
    assert.equal(streamListeners(stream).slice(0, 1), [0], 'no message listener')
    assert.ok(streamListeners(stream).every((n, i) => n <= (pipeless[i] ?? 0)), `stream listeners ${String(streamListeners(stream))} vs fresh ${String(pipeless)}`)
  } finally {
    await tunnel.stop()
    echo.close()
  }
})

test('half-close: the request goes in, FIN follows it, and the reply still comes back', async () => {
  // The target answers only after the client's FIN, like an HTTP/1.0 server reading to EOF.
  const target = await listen(sock => {
    let got = ''
    sock.on('data', (d: Buffer) => { got += d.toString() })
    sock.on('end', () => { sock.end(`got ${got.length}: ${got}`) })
  })
  const tunnel = await startTunnel(portOf(target))
  try {
    const client = await connect(tunnel.port)
    client.end('request body')
    let reply = ''
    for await (const d of client) reply += String(d)
    assert.is(reply, 'got 12: request body')
  } finally {
    await tunnel.stop()
    target.close()
  }
})

test('half-close the other way: the target ends first and still receives what the client sends after', async () => {
  let late = ''
  let targetSawEnd = false
  let lateReceived!: () => void
  const lateDone = new Promise<void>(resolve => { lateReceived = resolve })
  const server = await listen(sock => {
    sock.end('hello, then FIN')
    sock.on('data', (d: Buffer) => { late += d.toString() })
    sock.on('end', () => { targetSawEnd = true; lateReceived() })
  })
  const tunnel = await startTunnel(portOf(server))
  try {
    const client = await connect(tunnel.port)
    let first = ''
    client.on('data', (d: Buffer) => { first += d.toString() })
    await new Promise(resolve => client.once('end', resolve))
    assert.is(first, 'hello, then FIN')
    assert.ok(!client.destroyed && client.writable, 'client can still write after the target half-closed')
    client.end('late data')
    await lateDone
    assert.is(late, 'late data')
    assert.ok(targetSawEnd)
  } finally {
    await tunnel.stop()
    server.close()
  }
})

test('backpressure: a target that stops reading stops the sender, buffering stays bounded, nothing is lost', async () => {
  let target: net.Socket | undefined
  const got = createHash('sha256')
  let gotBytes = 0
  const server = await listen(sock => {
    target = sock
    sock.pause() // the slow reader: reads nothing until resumed
    sock.on('data', (d: Buffer) => { got.update(d); gotBytes += d.byteLength })
  })
  const tunnel = await startTunnel(portOf(server))
  try {
    const total = 96 * MiB
    const client = await connect(tunnel.port)
    const sent = createHash('sha256')
    let flushed = 0 // bytes the client's kernel accepted (write callbacks)
    let stalled = false
    const writer = (async () => {
      for (const chunk of payload(total)) {
        sent.update(chunk)
        if (!client.write(chunk, () => { flushed += chunk.byteLength })) {
          const drained = await Promise.race([
            new Promise<boolean>(resolve => client.once('drain', () => { resolve(true) })),
            new Promise<boolean>(resolve => setTimeout(() => { resolve(false) }, 1500))
          ])
          if (!drained) {
            stalled = true
            await new Promise(resolve => client.once('drain', resolve))
          }
        }
      }
      client.end()
    })()
    // Wait until the sender has stalled for 1.5 s with the target reading nothing.
    const t0 = Date.now()
    while (!stalled && Date.now() - t0 < 20_000) await new Promise(resolve => setTimeout(resolve, 50))
    assert.ok(stalled, 'the sender was never held back')
    const providerStream = tunnel.providerStreams[0] as Stream
    // What is in flight: the Yamux window (held in the provider stream's read buffer, ≤ window),
    // the pipe sockets' user-space buffers (≤ 1 MiB high-water mark + one message), and the
    // kernel's socket buffers on four sockets. The sender wanted to push 96 MiB.
    process.stdout.write(`\n    stalled after ${(flushed / MiB).toFixed(1)} MiB accepted; provider stream read buffer ${(providerStream.readBufferLength / MiB).toFixed(1)} MiB, target socket buffer ${((target?.writableLength ?? 0) / MiB).toFixed(1)} MiB\n`)
    assert.ok(providerStream.readBufferLength <= YAMUX_WINDOW, `read buffer ${providerStream.readBufferLength}`)
    assert.ok(flushed < 56 * MiB, `sender got ${flushed} bytes out while the reader read nothing`)
    assert.is(providerStream.status, 'open', 'the paused stream was not reset')

    target?.resume()
    await writer
    const deadline = Date.now() + 30_000
    while (gotBytes < total && Date.now() < deadline && providerStream.status === 'open') await new Promise(resolve => setTimeout(resolve, 20))
    assert.is(gotBytes, total)
    assert.is(got.digest('hex'), sent.digest('hex'))
    // The target has not ended its side yet: the tunnel is half-open, as TCP is. End it.
    target?.end()
    for await (const _ of client) { /* the client sees the end */ }
    const [u, p] = await Promise.all([tunnel.userPipes[0], tunnel.providerPipes[0]])
    assert.equal(u, { socketToStream: total, streamToSocket: 0 })
    assert.equal(p, { socketToStream: 0, streamToSocket: total })
  } finally {
    await tunnel.stop()
    server.close()
  }
})

test('a reset on either side reaches the other as a reset, not as a clean end', async () => {
  // 1. The target resets mid-stream: the client sees ECONNRESET, no clean 'end'.
  const resetting = await listen(sock => {
    sock.once('data', () => { sock.resetAndDestroy() })
  })
  const tunnel = await startTunnel(portOf(resetting))
  try {
    const client = await connect(tunnel.port)
    let sawEnd = false
    client.on('end', () => { sawEnd = true })
    client.resume() // a reading application: an RST is seen on read
    const err = await new Promise<Error | undefined>(resolve => {
      client.once('error', resolve)
      client.once('close', () => { resolve(undefined) })
      client.write('trigger')
    })
    assert.ok(err != null, 'client saw an error')
    assert.is((err as NodeJS.ErrnoException).code, 'ECONNRESET')
    assert.not.ok(sawEnd, 'no clean end')
    const [u, p] = await Promise.all([tunnel.userPipes[0], tunnel.providerPipes[0]])
    assert.ok(u?.error != null && p?.error != null, 'both pipes report the failure')
  } finally {
    await tunnel.stop()
    resetting.close()
  }

  // 2. The client resets: the target sees ECONNRESET.
  let targetError: Error | undefined
  let gone!: () => void
  const targetGone = new Promise<void>(resolve => { gone = resolve })
  const server2 = await listen(sock => {
    sock.on('error', err => { targetError = err })
    sock.on('close', () => { gone() })
    sock.resume()
  })
  const tunnel2 = await startTunnel(portOf(server2))
  try {
    const client = await connect(tunnel2.port)
    client.write('some data')
    while (tunnel2.providerStreams.length === 0) await new Promise(resolve => setTimeout(resolve, 10))
    await new Promise(resolve => setTimeout(resolve, 100))
    client.resetAndDestroy()
    await targetGone
    assert.is((targetError as NodeJS.ErrnoException | undefined)?.code, 'ECONNRESET')
  } finally {
    await tunnel2.stop()
    server2.close()
  }
})

test.run()
