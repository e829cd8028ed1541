// `node dist/sim/netns/run.js [--latency 50ms] [--loss 1%] [--keep]` (root): builds the netns
// network, runs one lease end to end through a NATed provider (scenario.ts), prints a JSON
// summary on stdout (progress on stderr), and removes everything it made: on success, on
// failure, on SIGINT/SIGTERM. With --keep the network stays up until Ctrl-C.
import { parseRunArgs, type RunArgs } from './args.js'
import { NetnsScenario } from './scenario.js'

async function main (): Promise<void> {
  let args: RunArgs
  try { args = parseRunArgs(process.argv.slice(2)) } catch (err) { process.stderr.write(`${(err as Error).message}\n`); process.exit(2) }
  const scenario = new NetnsScenario({ ...args, log: line => { process.stderr.write(`netns: ${line}\n`) } })
  let cleaning: Promise<void> | undefined
  const cleanup = async (): Promise<void> => { cleaning ??= scenario.cleanup(true); await cleaning }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // `on`, not `once`: a second signal (Ctrl-C and a supervisor's SIGTERM together, or `timeout`
    // passing one on) must not kill us halfway through removing the network.
    process.on(signal, () => {
      if (cleaning != null) return
      process.stderr.write(`netns: ${signal}: removing the network\n`)
      void cleanup().finally(() => process.exit(130))
    })
  }
  let code = 0
  try {
    const summary = await scenario.run()
    process.stdout.write(JSON.stringify(summary) + '\n')
    if (args.keep) {
      process.stderr.write(`netns: --keep: namespaces ${[...(scenario.topology?.hosts.values() ?? [])].map(h => h.ns).join(', ')} stay up; Ctrl-C removes them\n`)
      await new Promise(() => {})
    }
  } catch (err) {
    process.stderr.write(`netns: failed: ${(err as Error).message}\n`)
    for (const name of ['gateway', 'provider']) {
      const log = scenario.logsOf(name).trim().split('\n').slice(-8).join('\n')
      if (log !== '') process.stderr.write(`--- ${name} (last lines) ---\n${log}\n`)
    }
    code = 1
    if (args.keep) {
      process.stderr.write('netns: --keep: the network stays up for a look; Ctrl-C removes it\n')
      await new Promise(() => {})
    }
  } finally {
    await cleanup()
  }
  process.exit(code)
}

await main()
