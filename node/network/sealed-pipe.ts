// Pipes a plaintext socket and a socket of sealed records (protocols/tunnel/records.ts) both ways:
// the data plane of a dedicated tunnel. On the user's node the plaintext socket is the one its
// local port accepted, on the provider the one it opened to the container; the sealed socket
// runs to the gateway's splice port, which copies it to the other end.
//
// What it guarantees, and why:
//  - Nothing unauthenticated reaches the plaintext socket (RecordOpener holds a record's
//    plaintext until its tag checked out); a forged record resets both sockets.
//  - A clean end is authenticated: the plaintext socket's FIN becomes the close record, and only
//    the close record becomes a FIN on the far side. A sealed stream that ends without it was cut
//    by whoever forwards it, so the application sees a reset (ECONNRESET), never a clean
//    end-of-file that could pass for a complete response.
//  - Errors cross over as resets; half-close works both ways (both sockets allow half-open).
//  - Backpressure both ways: a socket whose writes passed its high-water mark stops the reads
//    that feed it until it drains. What one direction buffers is bounded by the high-water mark
//    plus one read.
//  - Reads go into reused buffers where Node allows it (own-read-buffers.ts): sealing and
//    opening both copy, so a read buffer is free again as soon as its bytes were handled.
import net from 'node:net'
import { RecordOpener, RecordSealer } from '../../protocols/tunnel/records.js'
import { bulkBuffers, idleBuffers, ownReadBuffers, poolOf } from './own-read-buffers.js'
import { TunnelResetError } from './tunnel-pipe.js'

/** The two directions' record keys, as this end sees them. */
export interface SealedKeys {
  /** Seals what this end sends. */
  send: Uint8Array
  /** Opens what it receives. */
  receive: Uint8Array
}

export interface SealedPipeOptions {
  /** Sealed bytes already read from `sealed` (read past a handshake): opened before any other. */
  leftover?: Uint8Array
  /** Aborting resets both sides. */
  signal?: AbortSignal
}

export interface SealedPipeResult {
  /** Plaintext bytes read from the plaintext socket and sent sealed. */
  sent: number
  /** Plaintext bytes opened and written to the plaintext socket. */
  received: number
  /** Set when the pipe ended abnormally (a socket error, a forged or cut record stream, an abort). */
  error?: Error
}

/**
 * Reads `socket` into `onBytes` (reused buffers where Node allows it, 'data' events otherwise).
 * `onBytes` returns false to stop reading until `socket.resume()`; it must not keep the buffer.
 */
function readInto (socket: net.Socket, onBytes: (bytes: Buffer) => boolean): void {
  // What a paused socket already holds (read before it was handed to this pipe) goes first.
  for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) != null;) onBytes(chunk)
  let filled = false
  let current: Buffer | undefined
  const owned = ownReadBuffers(socket, {
    first: (current = idleBuffers.take()),
    next: () => {
      // The read was handled synchronously (sealed or opened, both copy), so the buffer can be
      // read into again; a bulk one after a read that filled it, an idle one once reads get small.
      const want = filled ? bulkBuffers : idleBuffers
      if (current != null && poolOf(current) === want) return current
      if (current != null) poolOf(current).give(current)
      current = want.take()
      return current
    },
    onRead: (n, buffer) => {
      filled = n === buffer.byteLength
      return onBytes(buffer.subarray(0, n))
    }
  })
  if (!owned) socket.on('data', (bytes: Buffer) => { if (!onBytes(bytes)) socket.pause() })
}

function writeAll (socket: net.Socket, chunks: Uint8Array[]): boolean {
  let ok = true
  socket.cork()
  for (const chunk of chunks) ok = socket.write(chunk)
  socket.uncork()
  return ok
}

/**
 * Pipes `plain` and `sealed` until both directions have ended or one side failed. Resolves
 * (never rejects) with byte counts and, on abnormal ends, the error; both sockets are closed
 * or destroyed by then.
 */
export async function pipeSealed (plain: net.Socket, sealed: net.Socket, keys: SealedKeys, options: SealedPipeOptions = {}): Promise<SealedPipeResult> {
  plain.allowHalfOpen = true
  sealed.allowHalfOpen = true
  const result: SealedPipeResult = { sent: 0, received: 0 }
  const sealer = new RecordSealer(keys.send)
  let closesLeft = 2
  let resolve!: (r: SealedPipeResult) => void
  const done = new Promise<SealedPipeResult>(r => { resolve = r })

  const fail = (err: Error): void => {
    result.error ??= err
    // The application sees a reset; the far end sees the sealed stream stop without its close
    // record, which it turns into a reset of its own.
    if (!plain.destroyed) {
      if (plain.writableEnded || plain.connecting) plain.destroy()
      else try { plain.resetAndDestroy() } catch { plain.destroy() }
    }
    sealed.destroy()
  }

  // ---- plain → sealed --------------------------------------------------------------------
  const onSealedDrain = (): void => { if (!plain.destroyed) plain.resume() }
  readInto(plain, bytes => {
    result.sent += bytes.byteLength
    if (sealed.destroyed || sealed.writableEnded) return true
    if (writeAll(sealed, sealer.seal(bytes))) return true
    sealed.once('drain', onSealedDrain)
    return false
  })
  plain.once('end', () => {
    if (sealed.destroyed || sealed.writableEnded) return
    writeAll(sealed, sealer.close())
    sealed.end()
  })

  // ---- sealed → plain --------------------------------------------------------------------
  let sealedStopped = false
  const onPlainDrain = (): void => { if (sealedStopped && !sealed.destroyed) { sealedStopped = false; sealed.resume() } }
  plain.on('drain', onPlainDrain)
  const opener = new RecordOpener(keys.receive, chunks => {
    for (const c of chunks) result.received += c.byteLength
    if (!plain.destroyed && !plain.writableEnded && !writeAll(plain, chunks)) sealedStopped = true
  }, () => {
    if (!plain.destroyed && !plain.writableEnded) plain.end()
  })
  const open = (bytes: Uint8Array): boolean => {
    try {
      opener.push(bytes)
    } catch (err) {
      fail(err as Error)
      return false
    }
    return !sealedStopped
  }
  if (options.leftover != null && options.leftover.byteLength > 0) open(options.leftover)
  readInto(sealed, open)
  sealed.once('end', () => {
    if (!opener.ended) fail(new TunnelResetError('the sealed stream ended without its close record'))
  })

  // ---- errors and the end ------------------------------------------------------------------
  plain.on('error', err => { fail(err) })
  sealed.on('error', err => { fail(err) })
  const onAbort = (): void => { fail(new TunnelResetError('tunnel aborted')) }
  const onClose = (): void => {
    // One side gone before both directions ended takes the other with it.
    if (closesLeft === 2 && !(plain.readableEnded && opener.ended)) fail(result.error ?? new TunnelResetError('a socket closed before the tunnel finished'))
    if (--closesLeft === 0) {
      options.signal?.removeEventListener('abort', onAbort)
      resolve(result)
    }
  }
  for (const socket of [plain, sealed]) {
    if (socket.closed) onClose()
    else socket.once('close', onClose)
  }
  if (options.signal != null) {
    if (options.signal.aborted) onAbort()
    else options.signal.addEventListener('abort', onAbort, { once: true })
  }
  if (plain.destroyed || sealed.destroyed) fail(new TunnelResetError('a socket was already closed'))
  return await done
}
