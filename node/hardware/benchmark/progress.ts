// Progress of a benchmark job as events, and the terminal view of them: one line per stage
// on stderr, "what it is doing … what it found", so stdout stays for the result.
import type { BenchmarkResult, StageName } from '../schema.js'

export type ProgressEvent =
  | { type: 'stage-start', stage: StageName, step: number, steps: number, doing: string }
  | { type: 'stage-end', stage: StageName, step: number, steps: number, result: BenchmarkResult[StageName] }

export type ProgressListener = (event: ProgressEvent) => void

export const STAGE_LABELS: Record<StageName, string> = {
  cpuHash: 'cpu hash',
  cpuMatmul: 'cpu matmul',
  memory: 'memory',
  disk: 'disk',
  network: 'network',
  gpu: 'gpu'
}

/** One human line for a stage's result. */
export function summariseStage (result: BenchmarkResult[StageName]): string {
  if (result.status === 'skipped') return `skipped: ${result.reason}`
  if (result.status === 'failed') return `FAILED: ${result.error}`
  if ('sha256MBps' in result) return `${result.sha256MBps} MB/s sha256 (${result.perThreadMBps} MB/s per thread)`
  if ('gflops' in result) return `${result.gflops} GFLOPS float64 (${result.perThreadGflops} per thread)`
  if ('copyGBps' in result) return `${result.copyGBps} GB/s copied`
  if ('writeMBps' in result) {
    return `write ${result.writeMBps} MB/s, read ${result.readMBps} MB/s` +
      (result.readDirect ? '' : ' (read from page cache: no O_DIRECT here)') +
      (result.tmpfs ? ' [tmpfs: these are memory figures]' : '') + ` over ${result.fileMiB} MiB`
  }
  if ('throughputMBps' in result) return `${result.throughputMBps} MB/s to ${result.target}`
  return result.devices.map(d => `#${d.index} ${d.name}: FP32 ${d.fp32Tflops.toPrecision(3)} TFLOPS, FP16 ${d.fp16Tflops.toPrecision(3)} TFLOPS, copy ${d.copyGBps.toPrecision(3)} GB/s`).join('; ')
}

/** Writes "[2/6] cpu matmul  256×256 float64 matmul on 2 threads for 2.5 s … 3.1 GFLOPS (1.6 s)". */
export function terminalProgress (out: NodeJS.WritableStream = process.stderr): ProgressListener {
  return event => {
    const prefix = `[${event.step}/${event.steps}] ${STAGE_LABELS[event.stage].padEnd(10)}`
    if (event.type === 'stage-start') {
      out.write(`${prefix} ${event.doing} … `)
    } else {
      const took = event.result.status === 'skipped' ? '' : ` (${(event.result.durationMs / 1000).toFixed(1)} s)`
      out.write(`${summariseStage(event.result)}${took}\n`)
    }
  }
}
