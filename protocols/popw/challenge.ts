// The seeded benchmark challenge of /kaisar/challenge/1.0.0 (DESIGN §1.2): C = A·B mod p for
// n×n matrices A, B expanded from a fresh 32-byte nonce, the work GPUs are bought for.
//
// - Fresh: A and B are AES-256-CTR keystream under SHA-256(domain ‖ nonce ‖ provider), so
//   nothing can be computed before the nonce arrives, and one provider's answer is useless to
//   another (the provider's id is in the key).
// - Committed, then spot-checked: the provider answers with the Merkle root of C's rows; only
//   then does the checker pick OPEN_ROWS rows at random, which the provider opens with their
//   inclusion proofs. A root over garbage, or an earlier epoch's answer (a replay), fails the
//   first opened row; computing a fraction f of the rows passes with probability f^OPEN_ROWS.
// - Cheaper to check than to compute: the checker recomputes OPEN_ROWS rows, OPEN_ROWS·n²
//   multiply-adds against the provider's n³.
// - Sized by the claim: n grows with the throughput the provider's signed record claims (its
//   GPU model, else its CPU benchmark, else a conservative CPU baseline), and the deadline is
//   what that class needs plus slack and the measured round trip. A provider that claims more
//   than it has misses the deadline.
//
// Arithmetic is exact in float64: entries are < p = 65521 (< 2^16), so a row's n ≤ 1024
// products sum below 2^53 and are reduced once, giving the same bits on every machine.
import { createCipheriv, createHash } from 'node:crypto'
import { MerkleTree, equalBytes, leafHash, verifyInclusionHash } from '../../chain/merkle.js'
import { KaisarError } from '../../node/errors.js'
import { gpuModelById } from '../../node/hardware/gpu-models.js'
import type { BenchmarkResult, HardwareInventory } from '../../node/hardware/schema.js'

export const MODULUS = 65521
export const N_MIN = 32
export const N_MAX = 1024
export const OPEN_ROWS = 8
export const NONCE_BYTES = 32
/** Deadline = SLACK × the claimed class's compute time + 2 round trips + an allowance (expanding A and B, hashing the rows, scheduling). */
export const SLACK = 3
export const DEFAULT_ALLOWANCE_MS = 200
/** Multiply-adds per second assumed for a CPU that claims no benchmark: well below one core in JavaScript. */
export const CPU_BASELINE_RATE = 50e6
/** The challenge's modular product reaches this fraction of a GPU's FP32 peak (int32 kernels, mod reduction). */
const GPU_EFFICIENCY = 0.25
/** …and this fraction of the benchmark's float64 matmul on one CPU thread (the modulo, the checks). */
const CPU_EFFICIENCY = 0.5

export class ChallengeError extends KaisarError<{ code: 'ABORTED' | 'BAD_PARAMS' }> {
  constructor (code: 'ABORTED' | 'BAD_PARAMS', message: string) { super({ code }, message) }
}

const enc = new TextEncoder()
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

// ---- the claim and the plan ------------------------------------------------------------

export interface ComputeClaim {
  /** "gpu:h100-sxm", "cpu-bench" (its signed CPU benchmark) or "cpu" (no benchmark). */
  id: string
  /** Multiply-adds per second the claim promises on this challenge. */
  rate: number
}

/** The class a provider's signed record claims, and the throughput that class owes. */
export function claimedCompute (inventory: HardwareInventory, benchmark?: BenchmarkResult): ComputeClaim {
  let best: ComputeClaim | undefined
  for (const gpu of inventory.gpus) {
    const model = gpu.model != null ? gpuModelById(gpu.model) : undefined
    if (model == null) continue
    const rate = model.fp32Tflops * 1e12 / 2 * GPU_EFFICIENCY
    if (best == null || rate > best.rate) best = { id: `gpu:${model.id}`, rate }
  }
  if (best != null) return best
  const cpu = benchmark?.cpuMatmul
  if (cpu?.status === 'ok') return { id: 'cpu-bench', rate: Math.max(CPU_BASELINE_RATE, cpu.perThreadGflops * 1e9 / 2 * CPU_EFFICIENCY) }
  return { id: 'cpu', rate: CPU_BASELINE_RATE }
}

export interface ChallengePlan { n: number, expectedMs: number, deadlineMs: number }

/** n for about `targetMs` of work at the claimed rate; the deadline that rate has to meet. */
export function planChallenge (claim: ComputeClaim, targetMs: number, rttMs: number, allowanceMs = DEFAULT_ALLOWANCE_MS): ChallengePlan {
  const n = Math.max(N_MIN, Math.min(N_MAX, Math.round(Math.cbrt(claim.rate * targetMs / 1000))))
  const expectedMs = n ** 3 / claim.rate * 1000
  return { n, expectedMs, deadlineMs: Math.ceil(SLACK * expectedMs + 2 * rttMs + allowanceMs) }
}

// ---- the matrices ------------------------------------------------------------------------

export function challengeKey (nonce: Uint8Array, provider: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(enc.encode('kaisar/popw/challenge/1')).update(nonce).update(provider).digest())
}

/** Matrix `which` (row major, entries in [0, p)) expanded from the key with AES-256-CTR. */
export function expandMatrix (key: Uint8Array, which: 'A' | 'B', n: number): Float64Array {
  const iv = Buffer.alloc(16)
  iv[0] = which === 'A' ? 0x41 : 0x42
  const cipher = createCipheriv('aes-256-ctr', key, iv)
  // Into a fresh (aligned) buffer, read as little-endian 16-bit words; p < 2^16, so a word
  // needs at most one subtraction to land in [0, p).
  const bytes = new Uint8Array(n * n * 2)
  bytes.set(cipher.update(bytes))
  const out = new Float64Array(n * n)
  if (LITTLE_ENDIAN) {
    const words = new Uint16Array(bytes.buffer)
    for (let i = 0; i < n * n; i++) { const w = words[i] as number; out[i] = w >= MODULUS ? w - MODULUS : w }
  } else {
    const view = new DataView(bytes.buffer)
    for (let i = 0; i < n * n; i++) { const w = view.getUint16(i * 2, true); out[i] = w >= MODULUS ? w - MODULUS : w }
  }
  return out
}

/** Row i of A·B mod p. */
export function productRow (a: Float64Array, b: Float64Array, n: number, i: number, acc = new Float64Array(n)): Uint32Array {
  acc.fill(0)
  const row = i * n
  for (let k = 0; k < n; k++) {
    const aik = a[row + k] as number
    if (aik === 0) continue
    const bRow = k * n
    for (let j = 0; j < n; j++) acc[j] = (acc[j] as number) + aik * (b[bRow + j] as number)
  }
  const out = new Uint32Array(n)
  for (let j = 0; j < n; j++) out[j] = (acc[j] as number) % MODULUS
  return out
}

export function rowBytes (row: Uint32Array): Uint8Array {
  const out = new Uint8Array(row.length * 4)
  const view = new DataView(out.buffer)
  for (let j = 0; j < row.length; j++) view.setUint32(j * 4, row[j] as number, true)
  return out
}

// ---- the provider's side -------------------------------------------------------------------

export interface SolvedChallenge {
  n: number
  rows: Uint8Array[]
  tree: MerkleTree
  root: Uint8Array
}

/**
 * Computes C row by row, yielding to the event loop every few milliseconds (a node keeps
 * serving while it works). Gives up when `signal` aborts, or as soon as the pace so far says
 * the rows cannot be done within `budgetMs`: past the deadline the answer is worth nothing, and
 * a machine that cannot meet its claimed class should not burn its CPU finding that out.
 */
export async function solveChallenge (nonce: Uint8Array, provider: Uint8Array, n: number, signal?: AbortSignal, budgetMs = Number.POSITIVE_INFINITY): Promise<SolvedChallenge> {
  const started = performance.now()
  if (!Number.isInteger(n) || n < N_MIN || n > N_MAX) throw new ChallengeError('BAD_PARAMS', `n must be an integer in [${N_MIN}, ${N_MAX}]`)
  if (nonce.byteLength !== NONCE_BYTES) throw new ChallengeError('BAD_PARAMS', `the nonce must be ${NONCE_BYTES} bytes`)
  const key = challengeKey(nonce, provider)
  const a = expandMatrix(key, 'A', n)
  const b = expandMatrix(key, 'B', n)
  const acc = new Float64Array(n)
  const rows: Uint8Array[] = []
  // The early give-up projects the rows still to do at this solver's own pace (time spent
  // computing, not waiting): the waits between slices are other work sharing the event loop
  // (other challenges, other nodes in a simulator), and charging them to the pace made an
  // honest provider give up after one slow turn of a busy loop. What has already passed on the
  // clock counts in full, and the caller's signal still ends the work at the real deadline.
  let computingMs = 0
  let sliceStart = performance.now()
  for (let i = 0; i < n; i++) {
    rows.push(rowBytes(productRow(a, b, n, i, acc)))
    const now = performance.now()
    if (now - sliceStart > 4) {
      computingMs += now - sliceStart
      const projectedMs = now - started + computingMs / (i + 1) * (n - i - 1)
      if (projectedMs > budgetMs) throw new ChallengeError('ABORTED', `at this pace the ${n} rows take ${Math.round(projectedMs)} ms, over the ${budgetMs} ms budget`)
      await new Promise(resolve => setImmediate(resolve))
      if (signal?.aborted === true) throw new ChallengeError('ABORTED', 'the challenge was abandoned')
      sliceStart = performance.now()
    }
  }
  const tree = MerkleTree.fromLeaves(rows)
  return { n, rows, tree, root: tree.root }
}

// ---- the checker's side -------------------------------------------------------------------

/** OPEN_ROWS distinct random rows (fewer when n is smaller), chosen after the root arrived. */
export function pickRows (n: number, random: (max: number) => number): number[] {
  const rows = new Set<number>()
  while (rows.size < Math.min(OPEN_ROWS, n)) rows.add(random(n))
  return [...rows].sort((x, y) => x - y)
}

export interface OpenedRow { index: number, data: Uint8Array, proof: Uint8Array[] }

export type RowCheck = { ok: true } | { ok: false, reason: 'wrong-row' | 'bad-proof' | 'missing-row' }

/** Recomputes each asked row from the nonce and checks it and its path to the committed root. */
export function checkOpenedRows (nonce: Uint8Array, provider: Uint8Array, n: number, root: Uint8Array, asked: readonly number[], opened: readonly OpenedRow[]): RowCheck {
  const key = challengeKey(nonce, provider)
  const a = expandMatrix(key, 'A', n)
  const b = expandMatrix(key, 'B', n)
  for (const index of asked) {
    const row = opened.find(r => r.index === index)
    if (row == null) return { ok: false, reason: 'missing-row' }
    if (!verifyInclusionHash(leafHash(row.data), index, n, row.proof, root)) return { ok: false, reason: 'bad-proof' }
    if (!equalBytes(row.data, rowBytes(productRow(a, b, n, index)))) return { ok: false, reason: 'wrong-row' }
  }
  return { ok: true }
}
