// One CPU benchmark thread (a worker_threads entry point). It says "ready", waits for "go" so
// that every thread of the machine runs at the same time, works until its deadline, and posts
// how much it did. Only plain numbers cross the thread boundary.
import { createHash } from 'node:crypto'
import { parentPort, workerData } from 'node:worker_threads'

export type CpuWorkKind = 'sha256' | 'matmul'

export interface CpuWorkerInput { kind: CpuWorkKind, durationMs: number, matmulN: number }

/** sha256: bytes hashed; matmul: n×n multiplies done (each verified at the end). */
export interface CpuWorkerOutput { units: number, elapsedMs: number }

const SHA256_BLOCK_BYTES = 1024 * 1024

/** Work prepared before "ready" (buffers filled, code warmed up), timed after "go". */
type TimedWork = (durationMs: number) => CpuWorkerOutput

function prepareSha256 (): TimedWork {
  // Varied content, so nothing below us could shortcut identical blocks.
  const block = Buffer.alloc(SHA256_BLOCK_BYTES)
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24
  return durationMs => {
    let bytes = 0
    const start = performance.now()
    let now = start
    do {
      block.writeUInt32LE(bytes >>> 0, 0)
      createHash('sha256').update(block).digest()
      bytes += block.length
      now = performance.now()
    } while (now - start < durationMs)
    return { units: bytes, elapsedMs: now - start }
  }
}

/** C = A·B, i-k-j order so the inner loop walks rows of B and C contiguously. */
function multiply (a: Float64Array, b: Float64Array, c: Float64Array, n: number): void {
  c.fill(0)
  for (let i = 0; i < n; i++) {
    const row = i * n
    for (let k = 0; k < n; k++) {
      const aik = a[row + k] as number
      const bRow = k * n
      for (let j = 0; j < n; j++) c[row + j] = (c[row + j] as number) + aik * (b[bRow + j] as number)
    }
  }
}

function prepareMatmul (n: number): TimedWork {
  const a = new Float64Array(n * n)
  const b = new Float64Array(n * n)
  const c = new Float64Array(n * n)
  for (let i = 0; i < n * n; i++) { a[i] = ((i % 13) - 6) / 7; b[i] = ((i % 11) - 5) / 3 }
  // One untimed multiply lets the JIT compile the loop: the figure is steady-state speed.
  multiply(a, b, c, n)
  return durationMs => {
    let multiplies = 0
    const start = performance.now()
    let now = start
    do {
      multiply(a, b, c, n)
      multiplies++
      now = performance.now()
    } while (now - start < durationMs)
    // The result is checked, so the work cannot have been optimised away or gone wrong.
    for (const [i, j] of [[0, 0], [n - 1, n - 1], [n >> 1, n >> 2]] as Array<[number, number]>) {
      let expected = 0
      for (let k = 0; k < n; k++) expected += (a[i * n + k] as number) * (b[k * n + j] as number)
      if (Math.abs((c[i * n + j] as number) - expected) > 1e-9 * Math.max(1, Math.abs(expected))) throw new Error(`matmul check failed at (${i}, ${j})`)
    }
    return { units: multiplies, elapsedMs: now - start }
  }
}

const port = parentPort
if (port != null) {
  const input = workerData as CpuWorkerInput
  const work = input.kind === 'sha256' ? prepareSha256() : prepareMatmul(input.matmulN)
  port.once('message', () => { port.postMessage(work(input.durationMs)) })
  port.postMessage('ready')
}
