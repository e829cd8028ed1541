// The gateway's per-byte work on a splice: what one socket reads is written to the other, as
// cheaply as Node allows (the gateway shares its cores with whatever else runs on the machine;
// on the 2-vCPU bench machine it competes with both ends of the tunnel).
//
// Why not `from.pipe(to)`: every socket read then allocates a fresh Buffer of at most 64 KiB (libuv's
// read size), so the copy is one read, one allocation and one JS round through the stream
// machinery per 64 KiB, and garbage collection is ~40 % of the gateway's CPU. Reading into
// buffers the copy owns, 256 KiB at a time and reused, costs less than half the CPU per MiB
// (bench/TUNNEL.md, "The gateway's copy").
//
// Node's documented way to read into own buffers is the `onread` option of `new net.Socket()`;
// but net.Server creates the sockets it accepts itself and passes no `onread` (Node 20 and 22,
// lib/net.js `onconnection`), and both sockets of a splice are accepted. So once a socket has sent
// its ticket it is switched to that same mechanism by hand: the three fields the constructor sets
// for `onread` and the handle's `useUserBuffer`. They are Node internals; when they are not
// found the copy falls back to `pipe`, which is slower and otherwise the same.
import type net from 'node:net'

/** A buffer the socket reads into while a bulk transfer runs (every read fills it), */
const BULK = 256 * 1024
/** and the one it holds otherwise: each socket always has one, so an idle splice holds 2 × this. */
const IDLE = 16 * 1024
/** Writes not yet done per direction before reading stops: ≤ 1 MiB, as the 1 MiB high-water mark was. */
const IN_FLIGHT = 4

/** Free buffers of one size, shared by all splices; it keeps at most `spare` of them. */
class Pool {
  private readonly free: Buffer[] = []
  constructor (readonly size: number, private readonly spare: number) {}
  // Unsafe (uninitialised) is fine: only the bytes a read wrote into a buffer are ever sent on.
  take (): Buffer { return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size) }
  give (buffer: Buffer): void { if (this.free.length < this.spare) this.free.push(buffer) }
}
const bulk = new Pool(BULK, 32)
const idle = new Pool(IDLE, 64)
const poolOf = (buffer: Buffer): Pool => buffer.byteLength === BULK ? bulk : idle

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

/**
 * Copies `from` to `to` until `from` ends, then ends `to` (a half-close passes through). Errors and
 * closes are the caller's to handle, as with pipe. `reuseBuffers: false` forces the pipe (tests).
 */
export function spliceCopy (from: net.Socket, to: net.Socket, opts: { reuseBuffers?: boolean } = {}): void {
  const fields = opts.reuseBuffers === false ? undefined : onreadFields(from)
  if (fields == null || from.readableEnded) { from.pipe(to); return }
  // Whatever the stream already holds goes first (nothing, while the caller's 'data' listener read it).
  for (let chunk: Buffer | null; (chunk = from.read() as Buffer | null) != null;) to.write(chunk)

  let inFlight = 0
  let stopped = false
  let filled = false
  const onRead = (n: number, buffer: Buffer): boolean => {
    filled = n === buffer.byteLength
    inFlight++
    // The buffer goes back to its pool once written: libuv may still be sending from it until then.
    // After an error (`to` destroyed) it is left to the GC rather than risk reusing it too early.
    to.write(buffer.subarray(0, n), err => {
      inFlight--
      if (err == null) poolOf(buffer).give(buffer)
      if (stopped && !from.destroyed) { stopped = false; from.resume() }
    })
    if (inFlight < IN_FLIGHT) return true
    stopped = true
    return false // Node stops reading (readStop) until `from.resume()`
  }
  // Called after every read for the buffer of the next one: a bulk buffer after a read that
  // filled its buffer, an idle one otherwise (so a splice that goes quiet gives its big ones back).
  const next = (): Buffer => (filled ? bulk : idle).take()

  const socket = from as unknown as Internals
  const first = idle.take()
  socket[fields.buffer] = first
  socket[fields.generator] = next
  socket[fields.callback] = onRead
  socket._handle?.useUserBuffer?.(first)
  from.on('end', () => { to.end() })
  // Reading runs already (the caller's 'data' listener had it flowing); resume() makes sure.
  from.resume()
}
