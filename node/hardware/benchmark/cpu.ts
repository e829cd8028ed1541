// CPU stages: SHA-256 throughput and a Float64 matrix multiply, on every logical CPU at once
// (one worker thread each), which is what a renter's parallel job would get.
import os from 'node:os'
import { Worker } from 'node:worker_threads'
import { BenchmarkError } from '../errors.js'
import type { StageResult } from '../schema.js'
import type { CpuWorkerInput, CpuWorkerOutput, CpuWorkKind } from './cpu-worker.js'

const WORKER_URL = new URL('./cpu-worker.js', import.meta.url)

/** 256×256 doubles: three matrices (1.5 MiB) sit in L2/L3, so this measures arithmetic, not RAM. */
export const MATMUL_N = 256
/** Quick mode: one 256² multiply takes ~0.1 s on a slow core, too coarse for a 0.25 s budget. */
export const MATMUL_N_QUICK = 128

/** Runs `kind` on `threads` workers for `durationMs`; returns each worker's output. */
async function runWorkers (kind: CpuWorkKind, threads: number, durationMs: number, stage: string, matmulN = MATMUL_N): Promise<CpuWorkerOutput[]> {
  const input: CpuWorkerInput = { kind, durationMs, matmulN }
  const workers = Array.from({ length: threads }, () => new Worker(WORKER_URL, { workerData: input }))
  // A worker that never answers (it should not) is stopped: the job's duration stays bounded.
  const guardMs = durationMs * 3 + 10_000
  let timer: NodeJS.Timeout | undefined
  const overrun = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new BenchmarkError('BENCHMARK_STAGE_TIMEOUT', stage, `workers did not finish within ${guardMs} ms`)) }, guardMs)
  })
  try {
    await Promise.race([Promise.all(workers.map(nextMessage)), overrun])
    for (const w of workers) w.postMessage('go')
    return await Promise.race([Promise.all(workers.map(nextMessage)), overrun]) as CpuWorkerOutput[]
  } finally {
    clearTimeout(timer)
    await Promise.all(workers.map(async w => await w.terminate()))
  }
}

/** The worker's next message; rejects if it throws or exits first. */
async function nextMessage (worker: Worker): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    const onMessage = (value: unknown): void => { off(); resolve(value) }
    const onError = (err: Error): void => { off(); reject(err) }
    const onExit = (code: number): void => { off(); reject(new Error(`worker exited with code ${code}`)) }
    const off = (): void => { worker.off('message', onMessage).off('error', onError).off('exit', onExit) }
    worker.on('message', onMessage).on('error', onError).on('exit', onExit)
  })
}

/** Threads the process may run on (respects CPU affinity and cgroup-less container limits). */
export function benchmarkThreads (): number {
  return os.availableParallelism()
}

/** Sum of each thread's own rate: they ran concurrently, having waited for one "go". */
function aggregateRate (outputs: CpuWorkerOutput[]): number {
  return outputs.reduce((sum, o) => sum + o.units / (o.elapsedMs / 1000), 0)
}

export async function benchmarkCpuHash (durationMs: number, threads = benchmarkThreads()): Promise<StageResult<'cpuHash'>> {
  const start = performance.now()
  const outputs = await runWorkers('sha256', threads, durationMs, 'cpu-hash')
  const sha256MBps = aggregateRate(outputs) / 1e6
  return { status: 'ok', durationMs: Math.round(performance.now() - start), threads, sha256MBps: round(sha256MBps), perThreadMBps: round(sha256MBps / threads) }
}

export async function benchmarkCpuMatmul (durationMs: number, threads = benchmarkThreads(), n = MATMUL_N): Promise<StageResult<'cpuMatmul'>> {
  const start = performance.now()
  const outputs = await runWorkers('matmul', threads, durationMs, 'cpu-matmul', n)
  const gflops = aggregateRate(outputs) * 2 * n ** 3 / 1e9
  return { status: 'ok', durationMs: Math.round(performance.now() - start), threads, n, gflops: round(gflops), perThreadGflops: round(gflops / threads) }
}

/** Three significant digits: more would be noise on a shared machine. */
export function round (value: number): number {
  return Number(value.toPrecision(3))
}
