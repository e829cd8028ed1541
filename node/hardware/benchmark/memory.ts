// Memory stage: copy a buffer much larger than the CPU caches, one thread, and count bytes
// copied per second. Each byte is read once and written once; STREAM's "Copy" figure counts
// both, so it would print twice this number for the same machine.
import type { StageResult } from '../schema.js'
import { round } from './cpu.js'

/** Above the largest L3 slice a single thread sees (32–96 MiB on current server parts). */
export const MEMORY_BUFFER_MIB = 256
export const MEMORY_BUFFER_MIB_QUICK = 64

export async function benchmarkMemory (durationMs: number, bufferMiB: number): Promise<StageResult<'memory'>> {
  const wallStart = performance.now()
  const size = bufferMiB * 1024 * 1024
  const src = Buffer.alloc(size, 0x5a)
  const dst = Buffer.allocUnsafeSlow(size)
  // The first copy pays for page faults on `dst`; it is not timed.
  src.copy(dst)
  let copies = 0
  const start = performance.now()
  let now = start
  // At least 3 copies so one scheduling hiccup cannot make the figure.
  while (copies < 3 || now - start < durationMs) {
    src.copy(dst)
    copies++
    now = performance.now()
    // Let timers and I/O run between copies (progress output, an abort).
    if (copies % 4 === 0) await new Promise(resolve => setImmediate(resolve))
  }
  const elapsedMs = now - start
  return { status: 'ok', durationMs: Math.round(performance.now() - wallStart), bufferMiB, copyGBps: round(copies * size / (elapsedMs / 1000) / 1e9) }
}
