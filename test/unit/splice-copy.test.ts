// The gateway's splice copy (node/roles/gateway/splice-copy.ts) on its own, between two sockets a
// loopback server accepted (as the splice port does), with reused read buffers and with the
// pipe it falls back to:
//  - bytes arrive whole and in order, both ways at once;
//  - a FIN ends one direction after its last byte while the other keeps flowing;
//  - a receiver that stops reading stops the copy: the gateway holds at most ~1 MiB per direction.
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spliceCopy } from '../../node/roles/gateway/splice-copy.js'

const MiB = 1024 * 1024

interface Splice { a: net.Socket, b: net.Socket, gwA: net.Socket, gwB: net.Socket, close: () => Promise<void> }

/** A one-splice gateway: the two sockets it accepts are copied to each other. */
async function splice (reuseBuffers: boolean): Promise<Splice> {
  const accepted: net.Socket[] = []
  const server = net.createServer({ allowHalfOpen: true, noDelay: true, highWaterMark: MiB }, socket => { accepted.push(socket) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const connect = async (): Promise<net.Socket> => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    await new Promise(resolve => socket.once('connect', resolve))
    return socket
  }
  const a = await connect()
  while (accepted.length < 1) await new Promise(resolve => setTimeout(resolve, 5))
  const b = await connect()
  while (accepted.length < 2) await new Promise(resolve => setTimeout(resolve, 5))
  const [gwA, gwB] = accepted as [net.Socket, net.Socket]
  spliceCopy(gwA, gwB, { reuseBuffers })
  spliceCopy(gwB, gwA, { reuseBuffers })
  return {
    a,
    b,
    gwA,
    gwB,
    close: async () => {
      for (const s of [a, b, gwA, gwB]) s.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

/** Sends `blocks` with backpressure, then (if `end`) a FIN; resolves with their sha256. */
async function send (socket: net.Socket, blocks: Buffer[], end = true): Promise<string> {
  const hash = createHash('sha256')
  for (const block of blocks) {
    hash.update(block)
    if (!socket.write(block)) await new Promise(resolve => socket.once('drain', resolve))
  }
  if (end) socket.end()
  return hash.digest('hex')
}
/** Reads until `bytes` arrived (or, without `bytes`, until the FIN); resolves with the count and sha256. */
async function receive (socket: net.Socket, bytes?: number): Promise<{ bytes: number, sha: string }> {
  const hash = createHash('sha256')
  let got = 0
  return await new Promise(resolve => {
    const done = (): void => { socket.off('data', onData); resolve({ bytes: got, sha: hash.digest('hex') }) }
    const onData = (chunk: Buffer): void => { hash.update(chunk); got += chunk.byteLength; if (got === bytes) done() }
    socket.on('data', onData)
    if (bytes == null) socket.once('end', done)
  })
}
const blocks = (n: number, size = MiB): Buffer[] => Array.from({ length: n }, () => randomBytes(size))
const usesOwnBuffers = (socket: net.Socket): boolean => {
  const kBuffer = Object.getOwnPropertySymbols(socket).find(s => s.description === 'kBuffer')
  return kBuffer != null && Buffer.isBuffer((socket as unknown as Record<symbol, unknown>)[kBuffer])
}

for (const reuseBuffers of [true, false]) {
  const mode = reuseBuffers ? 'reused buffers' : 'pipe'

  test(`${mode}: 32 MiB each way at once arrive whole and in order`, async () => {
    const s = await splice(reuseBuffers)
    try {
      assert.is(usesOwnBuffers(s.gwA), reuseBuffers, 'this Node has the onread fields the copy needs')
      const ab = blocks(32); const ba = blocks(32, MiB - 7)
      const [sentAB, sentBA, gotB, gotA] = await Promise.all([send(s.a, ab), send(s.b, ba), receive(s.b), receive(s.a)])
      assert.equal(gotB, { bytes: 32 * MiB, sha: sentAB })
      assert.equal(gotA, { bytes: 32 * (MiB - 7), sha: sentBA })
    } finally { await s.close() }
  })

  test(`${mode}: a FIN ends one direction only, after its last byte`, async () => {
    const s = await splice(reuseBuffers)
    try {
      const request = blocks(3, 100_000)
      const [sent, got] = await Promise.all([send(s.a, request), receive(s.b)])
      assert.equal(got, { bytes: 300_000, sha: sent }, 'the request and its FIN reached b')
      assert.ok(!s.gwB.destroyed && !s.b.destroyed)
      const answer = blocks(4)
      const [sentBack, gotBack] = await Promise.all([send(s.b, answer), receive(s.a)])
      assert.equal(gotBack, { bytes: 4 * MiB, sha: sentBack }, 'the other direction still ran after the first FIN')
    } finally { await s.close() }
  })

  test(`${mode}: a receiver that stops reading stops the copy`, async () => {
    const s = await splice(reuseBuffers)
    try {
      s.b.pause()
      const data = blocks(64)
      const sending = send(s.a, data)
      await new Promise(resolve => setTimeout(resolve, 300))
      // The kernel's socket buffers hold some MiB; the gateway's own share stays bounded.
      assert.ok(s.gwB.writableLength <= 2 * MiB, `the gateway holds ${s.gwB.writableLength} bytes for b`)
      assert.ok(s.a.writableLength > 0, 'the sender is held back')
      const got = receive(s.b)
      s.b.resume()
      assert.equal(await got, { bytes: 64 * MiB, sha: await sending })
    } finally { await s.close() }
  })
}

test.run()
