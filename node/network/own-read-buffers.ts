// Socket reads into buffers the caller owns and reuses, instead of a fresh Buffer per read.
//
// Why: Node allocates a new Buffer of at most 64 KiB for every socket read, so a bulk byte path
// is one read, one allocation and one trip through the stream machinery per 64 KiB, and its
// garbage collection costs more than the copy (bench/TUNNEL.md, "The gateway's copy"). Reading
// into 256 KiB buffers that are reused cuts the reads by four and the garbage to nothing. Used by
// the gateway's splice copy and by both ends of a dedicated tunnel.
//
// Node's documented way is the `onread` option of `new net.Socket()`; but net.Server creates the
// sockets it accepts itself and passes no `onread` (Node 20 and 22, lib/net.js `onconnection`).
// So a socket is switched to that same mechanism by hand: the three fields the constructor sets
// for `onread`, and the handle's `useUserBuffer`. They are Node internals; where they are not
// found `ownReadBuffers` says so and the caller reads the ordinary way.
import type net from 'node:net'

/** A buffer for reads while a bulk transfer runs (every read fills it), */
export const BULK_READ_BYTES = 256 * 1024
/** and the one a socket holds otherwise: an idle socket keeps only this much. */
export const IDLE_READ_BYTES = 16 * 1024

/** Free buffers of one size, shared by every socket of the process; it keeps at most `spare`. */
export class BufferPool {
  private readonly free: Buffer[] = []
  constructor (readonly size: number, private readonly spare: number) {}
  // Unsafe (uninitialised) is fine: only the bytes a read wrote into a buffer are ever used.
  take (): Buffer { return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size) }
  give (buffer: Buffer): void { if (this.free.length < this.spare) this.free.push(buffer) }
}
export const bulkBuffers = new BufferPool(BULK_READ_BYTES, 32)
export const idleBuffers = new BufferPool(IDLE_READ_BYTES, 64)
/** The pool a buffer from `bulkBuffers` or `idleBuffers` goes back to. */
export const poolOf = (buffer: Buffer): BufferPool => buffer.byteLength === BULK_READ_BYTES ? bulkBuffers : idleBuffers

interface OnreadFields { buffer: symbol, callback: symbol, generator: symbol }
type Internals = Record<symbol, unknown> & { _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } | null }

/** The private fields `new net.Socket({ onread })` sets, on this socket; undefined if this Node has none. */
function onreadFields (socket: net.Socket): OnreadFields | undefined {
  const own = Object.getOwnPropertySymbols(socket)
  const find = (name: string): symbol | undefined => { const found = own.filter(s => s.description === name); return found.length === 1 ? found[0] : undefined }
  const [buffer, callback, generator] = [find('kBuffer'), find('kBufferCb'), find('kBufferGen')]
  if (buffer == null || callback == null || generator == null) return undefined
  if (typeof (socket as unknown as Internals)._handle?.useUserBuffer !== 'function') return undefined
  return { buffer, callback, generator }
}

/** Whether `ownReadBuffers` can switch this socket (Node's internals found, the socket open). */
export function canOwnReadBuffers (socket: net.Socket): boolean {
  return onreadFields(socket) != null && !socket.readableEnded
}

export interface OwnReads {
  /** The buffer the first read goes into. */
  first: Buffer
  /** Called after each read for the buffer of the next one (the same one again is fine). */
  next: () => Buffer
  /** `n` bytes were read into `buffer`. Return false to stop reading until `socket.resume()`. */
  onRead: (n: number, buffer: Buffer) => boolean
}

/**
 * From now on the socket's reads go into the caller's buffers and to `onRead`, not to 'data'
 * ('end', 'close' and 'error' are emitted as before). False, with nothing changed, when this Node
 * lacks the internals (see canOwnReadBuffers). The socket is left flowing.
 */
export function ownReadBuffers (socket: net.Socket, reads: OwnReads): boolean {
  const fields = onreadFields(socket)
  if (fields == null || socket.readableEnded) return false
  const internals = socket as unknown as Internals
  internals[fields.buffer] = reads.first
  internals[fields.generator] = reads.next
  internals[fields.callback] = reads.onRead
  internals._handle?.useUserBuffer?.(reads.first)
  // 'end' is emitted only while the stream flows; reading runs once resumed.
  socket.resume()
  return true
}
