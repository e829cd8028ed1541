// The command line of sim/netns/run.ts: `[--latency 50ms] [--loss 1%] [--keep]`.

export interface RunArgs { latencyMs: number, lossPercent: number, keep: boolean }

/** "50ms", "50", "0.05s" → ms; "1%", "1", "0.5%" → percent. */
export function parseRunArgs (argv: string[]): RunArgs {
  const args: RunArgs = { latencyMs: 0, lossPercent: 0, keep: false }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const value = argv[i + 1] ?? ''
    if (flag === '--keep') { args.keep = true; continue }
    if (flag === '--latency') {
      const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value)
      if (m == null) throw new Error(`--latency: not a duration such as 50ms: "${value}"`)
      args.latencyMs = Number(m[1]) * (m[2] === 's' ? 1000 : 1)
      i++
      continue
    }
    if (flag === '--loss') {
      const m = /^(\d+(?:\.\d+)?)%?$/.exec(value)
      if (m == null || Number(m[1]) >= 100) throw new Error(`--loss: not a percentage below 100 such as 1%: "${value}"`)
      args.lossPercent = Number(m[1])
      i++
      continue
    }
    throw new Error(`unknown argument ${String(flag)} (usage: run.js [--latency 50ms] [--loss 1%] [--keep])`)
  }
  return args
}
