// `kaisar-node benchmark`: the provider benchmark job, standalone (network over loopback).
// Progress goes to stderr one line per stage; the result to stdout. Exits 1 if a stage failed.
import { Command } from 'commander'
import os from 'node:os'
import { ConfigError } from '../../errors.js'

function stageMs (value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 50 || n > 60_000) throw new ConfigError('stage-ms', `must be a whole number of milliseconds from 50 to 60000 (got ${JSON.stringify(value)})`)
  return n
}

export function benchmarkCommand (): Command {
  return new Command('benchmark')
    .description('measure this machine: CPU (sha256, matmul), memory, disk, network (loopback), GPU (CUDA in a container)')
    .option('--json', 'print the result as one JSON object')
    .option('--quick', 'short budgets and small buffers (about 2 s in all)')
    .option('--stage-ms <ms>', 'time budget of each measurement (default 2500; --quick 250)', stageMs)
    .option('--disk-dir <dir>', 'where the disk stage writes its temp file', os.tmpdir())
    .option('--gpu-image <image>', 'container image with python3 and CUDA torch for the GPU stage')
    .action(async (opts: { json?: boolean, quick?: boolean, stageMs?: number, diskDir: string, gpuImage?: string }) => {
      // Loaded here, not at the top: other commands should not pay for the benchmark code.
      const { runBenchmark } = await import('../../hardware/benchmark/run.js')
      const { terminalProgress, summariseStage, STAGE_LABELS } = await import('../../hardware/benchmark/progress.js')
      const result = await runBenchmark({
        quick: opts.quick === true,
        stageMs: opts.stageMs,
        diskDir: opts.diskDir,
        gpuImage: opts.gpuImage,
        onProgress: terminalProgress(process.stderr)
      })
      const stages = (Object.keys(STAGE_LABELS) as Array<keyof typeof STAGE_LABELS>)
      if (opts.json === true) {
        process.stdout.write(JSON.stringify(result) + '\n')
      } else {
        process.stdout.write(`benchmark${result.quick ? ' (quick)' : ''} done in ${(result.durationMs / 1000).toFixed(1)} s\n` +
          stages.map(s => `  ${STAGE_LABELS[s].padEnd(10)} ${summariseStage(result[s])}\n`).join(''))
      }
      const failed = stages.filter(s => result[s].status === 'failed')
      if (failed.length > 0) {
        process.stderr.write(`kaisar-node: benchmark: ${failed.length} stage(s) failed: ${failed.map(s => STAGE_LABELS[s]).join(', ')}\n`)
        process.exitCode = 1
      }
    })
}
