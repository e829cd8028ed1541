// The benchmark job: the stages in order, each within its time budget, each reported as it
// ends, gathered into one validated BenchmarkResult. A stage that fails is recorded as failed
// and the job goes on: a provider with an unwritable scratch dir still has a CPU to measure.
//
// Budgets: every timed measurement gets `stageMs` (default 2.5 s; quick 0.25 s). Six stages,
// disk counting twice (write, read), make the default job ≈ 17 s and quick ≈ 2 s on a 2-core
// machine without a GPU. The GPU stage, when a GPU is there, adds container start-up and three
// measurements per GPU.
import os from 'node:os'
import { errorMessage } from '../../errors.js'
import type { CommandRunner } from '../command.js'
import { BenchmarkError } from '../errors.js'
import { probeGpus } from '../inventory.js'
import { BENCHMARK_VERSION, benchmarkSchema, describeSchemaIssue, parseBenchmark, type BenchmarkResult, type GpuDevice, type StageName } from '../schema.js'
import { benchmarkCpuHash, benchmarkCpuMatmul, benchmarkThreads, MATMUL_N, MATMUL_N_QUICK } from './cpu.js'
import { benchmarkDisk } from './disk.js'
import { benchmarkGpus, DEFAULT_GPU_IMAGE } from './gpu.js'
import { benchmarkMemory, MEMORY_BUFFER_MIB, MEMORY_BUFFER_MIB_QUICK } from './memory.js'
import { benchmarkNetwork, loopbackTcpProbe, type ThroughputProbe } from './network.js'
import type { ProgressListener } from './progress.js'

export const DEFAULT_STAGE_MS = 2_500
export const QUICK_STAGE_MS = 250

export interface BenchmarkOptions {
  /** Short budgets and small buffers (≤ 3 s in all): for tests and a first look. */
  quick?: boolean
  /** Budget of each timed measurement, overriding the mode's default. */
  stageMs?: number
  /** Where the disk stage writes its temp file (default: the OS temp dir). */
  diskDir?: string
  /** Network target; default: TCP over loopback (standalone mode). */
  network?: ThroughputProbe
  /** GPUs to benchmark; default: probe (nvidia-smi, else the PCI bus). */
  gpus?: readonly GpuDevice[]
  /** Runs nvidia-smi and docker; tests pass fakes. */
  runner?: CommandRunner
  gpuImage?: string
  onProgress?: ProgressListener
  signal?: AbortSignal
}

interface Stage<K extends StageName> {
  name: K
  doing: string
  run: () => Promise<BenchmarkResult[K]>
}

export async function runBenchmark (options: BenchmarkOptions = {}): Promise<BenchmarkResult> {
  const quick = options.quick ?? false
  const stageMs = options.stageMs ?? (quick ? QUICK_STAGE_MS : DEFAULT_STAGE_MS)
  const seconds = `${(stageMs / 1000).toFixed(stageMs < 1000 ? 2 : 1)} s`
  const threads = benchmarkThreads()
  const bufferMiB = quick ? MEMORY_BUFFER_MIB_QUICK : MEMORY_BUFFER_MIB
  const matmulN = quick ? MATMUL_N_QUICK : MATMUL_N
  const diskDir = options.diskDir ?? os.tmpdir()
  const probe = options.network ?? loopbackTcpProbe()
  const image = options.gpuImage ?? DEFAULT_GPU_IMAGE
  const gpus = options.gpus ?? (await probeGpus({ runner: options.runner })).gpus

  const stages: Array<Stage<'cpuHash'> | Stage<'cpuMatmul'> | Stage<'memory'> | Stage<'disk'> | Stage<'network'> | Stage<'gpu'>> = [
    { name: 'cpuHash', doing: `sha256 of 1 MiB blocks on ${threads} threads for ${seconds}`, run: async () => await benchmarkCpuHash(stageMs, threads) },
    { name: 'cpuMatmul', doing: `${matmulN}×${matmulN} float64 matrix multiply on ${threads} threads for ${seconds}`, run: async () => await benchmarkCpuMatmul(stageMs, threads, matmulN) },
    { name: 'memory', doing: `copying a ${bufferMiB} MiB buffer on 1 thread for ${seconds}`, run: async () => await benchmarkMemory(stageMs, bufferMiB) },
    { name: 'disk', doing: `writing (fsync) then reading a temp file in ${diskDir}, ${seconds} each`, run: async () => await benchmarkDisk({ dir: diskDir, durationMs: stageMs, maxFileMiB: quick ? 64 : 2048 }) },
    { name: 'network', doing: `sending to ${probe.target} for ${seconds}`, run: async () => await benchmarkNetwork(probe, stageMs) },
    {
      name: 'gpu',
      doing: gpus.length === 0 ? 'looking for GPUs' : `CUDA workload on ${gpus.length} GPU(s) in a container (${image})`,
      run: async () => await benchmarkGpus({ gpus, runner: options.runner, image, secondsPerTest: Math.max(stageMs, 1_000) / 1000 })
    }
  ]

  const startedAt = new Date()
  const jobStart = performance.now()
  const results: Partial<Record<StageName, BenchmarkResult[StageName]>> = {}
  for (const [i, stage] of stages.entries()) {
    if (options.signal?.aborted === true) throw new BenchmarkError('BENCHMARK_ABORTED', stage.name, 'aborted')
    const step = { step: i + 1, steps: stages.length }
    options.onProgress?.({ type: 'stage-start', stage: stage.name, doing: stage.doing, ...step })
    const stageStart = performance.now()
    let result: BenchmarkResult[StageName]
    try {
      result = await stage.run()
      // A stage that measured nonsense (NaN, 0 MB/s) fails alone, not the whole job.
      const checked = benchmarkSchema.shape[stage.name].safeParse(result)
      if (!checked.success) throw new Error(`implausible result: ${describeSchemaIssue(checked.error)}`)
    } catch (err) {
      result = { status: 'failed', error: errorMessage(err).slice(0, 500), durationMs: Math.round(performance.now() - stageStart) }
    }
    results[stage.name] = result
    options.onProgress?.({ type: 'stage-end', stage: stage.name, result, ...step })
  }

  // Validated as a whole before anyone signs or prints it.
  return parseBenchmark({
    version: BENCHMARK_VERSION,
    quick,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - jobStart),
    ...results
  })
}
