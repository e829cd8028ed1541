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
// The reads go into pooled buffers of node/network/own-read-buffers.ts (Node internals; when
// they are not found the copy falls back to `pipe`, which is slower and otherwise the same).
import type net from 'node:net'
import { bulkBuffers, canOwnReadBuffers, idleBuffers, ownReadBuffers, poolOf } from '../../network/own-read-buffers.js'

/** Writes not yet done per direction before reading stops: ≤ 1 MiB, as the 1 MiB high-water mark was. */
const IN_FLIGHT = 4

/**
 * Copies `from` to `to` until `from` ends, then ends `to` (a half-close passes through). Errors and
 * closes are the caller's to handle, as with pipe. `reuseBuffers: false` forces the pipe (tests).
 */
export function spliceCopy (from: net.Socket, to: net.Socket, opts: { reuseBuffers?: boolean } = {}): void {
  if (opts.reuseBuffers === false || !canOwnReadBuffers(from)) { from.pipe(to); return }
  // Whatever the stream already holds goes first (nothing, while the caller's 'data' listener read it).
  for (let chunk: Buffer | null; (chunk = from.read() as Buffer | null) != null;) to.write(chunk)

  let inFlight = 0
  let stopped = false
  let filled = false
  from.on('end', () => { to.end() })
  ownReadBuffers(from, {
    first: idleBuffers.take(),
    // A bulk buffer after a read that filled its buffer, an idle one otherwise (so a splice that
    // goes quiet gives its big ones back). The one just read stays with its write (below).
    next: () => (filled ? bulkBuffers : idleBuffers).take(),
    onRead: (n, buffer) => {
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
  })
}
