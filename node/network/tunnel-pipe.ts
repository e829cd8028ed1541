// Pipes one TCP socket and one libp2p v3 stream both ways: the mesh-VPN tunnel's data path
// (DESIGN §1.6, /kaisar/tunnel/1.0.0). Used on both ends: the user's node pipes the socket its
// local port accepted, the provider's node pipes the socket it opened to the container port.
//
// What it guarantees, and why:
//  - Bytes are passed by reference, never copied. Socket reads (fresh Buffers from Node) go to
//    `stream.send()` as they are, several at a time when they arrive together (see
//    `coalesceBytes`); a stream 'message' (a Uint8ArrayList, usually several chunks) is
//    written chunk by chunk under one cork, so the kernel gets one writev and nothing is
//    concatenated (`list.subarray()` would copy whenever a message spans chunks, which with
//    64 KiB socket reads and 64 KiB Noise frames is nearly always).
//  - Backpressure both ways. socket → stream: `send()` returns false when the muxer or the
//    connection is full; the socket is paused until the stream's 'drain' EVENT (not `onDrain()`,
//    which caches its first promise in @libp2p/utils 7.4.1 and then never waits again).
//    stream → socket: `write()` returns false when the socket's buffer passed its high-water
//    mark; the stream is paused (Yamux then stops granting window) until the socket drains.
//    So what one tunnel can buffer is bounded by the Yamux window plus the socket buffers.
//  - Half-close. A FIN from the socket closes the stream's writable end (after queued data);
//    the stream's end of data (remote closed its writable end and everything was delivered)
//    ends the socket's writable side. Both sockets must allow half-open connections, or Node
//    answers a FIN by closing the other direction too: this function turns it on.
//  - Errors and resets cross over. A socket error aborts the stream (the remote sees a reset);
//    a stream reset or abort resets the TCP connection (RST, so the application sees
//    ECONNRESET, not a clean end-of-file that could pass for a complete response).
//  - No leaks: every listener added here is removed when the pipe settles.
import { Uint8ArrayList } from 'uint8arraylist'
import type { Socket } from 'node:net'
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'

export interface PipeResult {
  /** Bytes read from the socket and sent into the stream. */
  socketToStream: number
  /** Bytes received from the stream and written to the socket. */
  streamToSocket: number
  /** Set when the pipe ended abnormally (socket error, stream reset/abort, premature close). */
  error?: Error
}

export interface PipeOptions {
  /** Aborting resets both sides. */
  signal?: AbortSignal
  /**
   * socket → stream: socket reads that arrive in the same event-loop turn (Node reads at most
   * 64 KiB at a time) are sent as one batch of up to this many bytes, still by reference, so
   * the libp2p stack (Yamux framing, Noise, the connection's writev) runs once per batch
   * instead of once per 64 KiB. The batch is sent from setImmediate, i.e. still in the same
   * loop turn, so a lone small request is not delayed. 0 sends every read at once. Default
   * DEFAULT_COALESCE_BYTES.
   */
  coalesceBytes?: number
  /** Called once per direction when that direction finished cleanly (for logs/tests). */
  onHalfClose?: (direction: 'socketToStream' | 'streamToSocket') => void
}

/** Why the socket side was torn down, when the stream side failed. */
export class TunnelResetError extends Error {
  override name = 'TunnelResetError'
}

/** 256 KiB: four full Noise frames per batch, while a batch still pipelines through the nodes. */
export const DEFAULT_COALESCE_BYTES = 256 * 1024

/**
 * Pipes `socket` and `stream` both ways until both directions have ended or one side failed.
 * Resolves (never rejects) with byte counts and, on abnormal ends, the error. The caller owns
 * neither side afterwards: both are closed or destroyed when the promise settles.
 */
export async function pipeSocketStream (socket: Socket, stream: Stream, options: PipeOptions = {}): Promise<PipeResult> {
  // Without this Node ends our writable side as soon as the peer's FIN arrives, cutting the
  // return path of a request whose client half-closed after sending it.
  socket.allowHalfOpen = true

  const result: PipeResult = { socketToStream: 0, streamToSocket: 0 }
  let socketClosed = socket.destroyed
  let streamClosed = stream.status !== 'open'
  let socketEnded = false // FIN read from the socket, stream write side closing/closed
  let streamEnded = false // end of the stream's data, socket write side ended
  let waitingStreamDrain = false
  let waitingSocketDrain = false
  let settled = false
  let resolve!: (r: PipeResult) => void
  const done = new Promise<PipeResult>(r => { resolve = r })

  const fail = (err: Error, from: 'socket' | 'stream'): void => {
    if (result.error == null) result.error = err
    if (from === 'socket') {
      if (stream.status === 'open') stream.abort(err)
    } else if (!socket.destroyed) {
      // An abortive close (RST): the application must not mistake a broken tunnel for a clean
      // end of file. resetAndDestroy() throws for non-TCP handles (unix sockets), and libuv
      // refuses it (EINVAL) once the socket is shutting down after end(): plain destroy then.
      if (socket.writableEnded) socket.destroy()
      else try { socket.resetAndDestroy() } catch { socket.destroy() }
    }
  }

  // ---- socket → stream ---------------------------------------------------------------
  const coalesceBytes = options.coalesceBytes ?? DEFAULT_COALESCE_BYTES
  let pending: Buffer[] = []
  let pendingBytes = 0
  let flushTimer: NodeJS.Immediate | undefined
  const onStreamDrain = (): void => {
    if (!waitingStreamDrain) return
    waitingStreamDrain = false
    if (!socket.destroyed) socket.resume()
  }
  const flush = (): void => {
    if (flushTimer != null) { clearImmediate(flushTimer); flushTimer = undefined }
    if (pending.length === 0) return
    const data = pending.length === 1 ? pending[0] as Buffer : new Uint8ArrayList(...pending)
    pending = []
    pendingBytes = 0
    if (stream.status !== 'open' || stream.writeStatus !== 'writable') return
    let ok: boolean
    try {
      ok = stream.send(data)
    } catch (err) {
      // The stream's write side is closed (remote reset, or closeRead by the remote): the
      // rest of this socket's data has nowhere to go.
      fail(err instanceof Error ? err : new Error(String(err)), 'stream')
      return
    }
    if (!ok && !waitingStreamDrain) {
      waitingStreamDrain = true
      socket.pause()
    }
  }
  const onSocketData = (buf: Buffer): void => {
    result.socketToStream += buf.byteLength
    pending.push(buf)
    pendingBytes += buf.byteLength
    if (pendingBytes >= coalesceBytes) flush()
    else flushTimer ??= setImmediate(flush)
  }
  const onSocketEnd = (): void => {
    flush()
    socketEnded = true
    if (stream.status !== 'open') return
    stream.close().then(() => { options.onHalfClose?.('socketToStream') }, (err: unknown) => {
      fail(err instanceof Error ? err : new Error(String(err)), 'stream')
    })
  }

  // ---- stream → socket ---------------------------------------------------------------
  const onSocketDrain = (): void => {
    if (!waitingSocketDrain) return
    waitingSocketDrain = false
    // Also after a clean 'close': what the stream still buffers must be delivered.
    if (stream.readStatus !== 'paused') return
    stream.resume()
    // @libp2p/utils 7.4's resume() dispatches the whole read buffer and only then tells the
    // muxer to resume (Yamux grants window again), even when the 'message' listener paused the
    // stream during that dispatch because the socket filled up. The stream then says 'paused'
    // while the remote keeps sending, until the read buffer overflows and the stream is reset
    // (StreamBufferError; found by test/unit/tunnel-pipe.test.ts). A resume/pause pair with
    // the buffer now empty puts the muxer back in step.
    if (waitingSocketDrain && stream.readStatus === 'paused') {
      stream.resume()
      stream.pause()
    }
  }
  const onStreamMessage = (evt: StreamMessageEvent): void => {
    const data = evt.data
    if (socket.destroyed || socket.writableEnded) return
    let ok = true
    if (data instanceof Uint8Array) {
      result.streamToSocket += data.byteLength
      ok = socket.write(data)
    } else {
      result.streamToSocket += data.byteLength
      // One cork, many chunks: Node flushes them with a single writev on uncork.
      socket.cork()
      for (const chunk of data) ok = socket.write(chunk)
      socket.uncork()
    }
    if (!ok && !waitingSocketDrain) {
      waitingSocketDrain = true
      // Stops 'message' events and Yamux window updates: the remote stops once the window is
      // used up, and what arrives meanwhile stays in the stream's read buffer (≤ window).
      if (stream.readStatus === 'readable') stream.pause()
    }
  }
  const onStreamEnd = (): void => {
    // A reset or abort also ends the readable side ('end' comes just before the 'close' that
    // carries the error): that must become a TCP reset, not a graceful FIN.
    if (streamEnded || stream.status === 'reset' || stream.status === 'aborted') return
    streamEnded = true
    if (!socket.destroyed && !socket.writableEnded) {
      socket.end(() => { options.onHalfClose?.('streamToSocket') })
    }
  }

  // ---- closes and errors -------------------------------------------------------------
  const onSocketError = (err: Error): void => { fail(err, 'socket') }
  const onSocketClose = (): void => {
    socketClosed = true
    // A socket that closed before both directions ended, without an 'error' (destroyed
    // locally, or the kernel dropped it), still leaves the stream half-used: abort it.
    if (!(socketEnded && streamEnded) && stream.status === 'open') {
      fail(result.error ?? new TunnelResetError('socket closed before the tunnel finished'), 'socket')
    }
    maybeSettle()
  }
  const onStreamClose = (evt: StreamCloseEvent): void => {
    streamClosed = true
    if (evt.error != null) {
      fail(evt.error, 'stream')
    } else if (!socketEnded) {
      // Closed while the socket still had data to send (the connection went away): whatever
      // the application sends next is lost, so it must see a reset, not carry on half-open.
      fail(new TunnelResetError('stream closed while the socket was still sending'), 'stream')
    } else if (!streamEnded && stream.readBufferLength === 0) {
      onStreamEnd()
    }
    // Otherwise the stream closed (both sides finished writing) while we were paused with data
    // still buffered: it is delivered when the socket drains, and 'end' follows it. Ending the
    // socket here would drop that data.
    maybeSettle()
  }
  const onAbort = (): void => {
    const err = new TunnelResetError('tunnel aborted')
    fail(err, 'socket')
    fail(err, 'stream')
  }

  function cleanup (): void {
    if (flushTimer != null) clearImmediate(flushTimer)
    socket.off('data', onSocketData)
    socket.off('end', onSocketEnd)
    socket.off('drain', onSocketDrain)
    socket.off('error', onSocketError)
    socket.off('close', onSocketClose)
    stream.removeEventListener('message', onStreamMessage)
    stream.removeEventListener('drain', onStreamDrain)
    stream.removeEventListener('end', onStreamEnd)
    stream.removeEventListener('close', onStreamClose)
    options.signal?.removeEventListener('abort', onAbort)
  }
  function maybeSettle (): void {
    if (settled || !socketClosed || !streamClosed) return
    settled = true
    cleanup()
    resolve(result)
  }

  socket.on('data', onSocketData)
  socket.on('end', onSocketEnd)
  socket.on('drain', onSocketDrain)
  socket.on('error', onSocketError)
  socket.on('close', onSocketClose)
  stream.addEventListener('message', onStreamMessage)
  stream.addEventListener('drain', onStreamDrain)
  stream.addEventListener('end', onStreamEnd)
  stream.addEventListener('close', onStreamClose)

  if (options.signal != null) {
    if (options.signal.aborted) onAbort()
    else options.signal.addEventListener('abort', onAbort, { once: true })
  }
  // Either side may already be finished when we are called.
  if (stream.readableEnded) onStreamEnd()
  if (streamClosed && stream.status !== 'closed') fail(new TunnelResetError(`stream is ${stream.status}`), 'stream')
  if (socketClosed && stream.status === 'open') fail(new TunnelResetError('socket already closed'), 'socket')
  maybeSettle()
  return await done
}

/**
 * Options for the sockets on both ends of a tunnel (`net.createServer(...)` for the user's
 * local port, `net.connect({ ...TUNNEL_SOCKET_OPTIONS, host, port })` on the provider):
 * half-open allowed (see above), no Nagle delay for small requests, and a 1 MiB writable
 * high-water mark so that writing one 64 KiB message does not report backpressure at once
 * (Node's default is 16 KiB), which would pause and resume the stream on every message.
 */
export const TUNNEL_SOCKET_OPTIONS = Object.freeze({ allowHalfOpen: true, noDelay: true, highWaterMark: 1024 * 1024 })
