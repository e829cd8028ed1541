// `kaisar-node sim --scenario NAME [...]`: the network simulator (issue 7). Runs the real node
// code for many nodes in this process over the memory transport, plays a seeded schedule of
// events and prints a report (text, or one JSON line with --json; HTML with --report).
import fs from 'node:fs/promises'
import { Command } from 'commander'
import { SCENARIOS } from '../../../sim/scenarios/index.js'
import type { SimFlags } from '../../../sim/options.js'

export function simCommand (): Command {
  const scenarios = Object.values(SCENARIOS).map(s => `  ${s.name.padEnd(13)} ${s.summary} (≥ ${s.minNodes} nodes)`).join('\n')
  return new Command('sim')
    .description('run many real nodes in this process and report how the network behaves')
    .requiredOption('--scenario <name>', `what happens during the run:\n${scenarios}`)
    .option('--nodes <n>', 'KaisarNodes to run (gateways ≈ n/150, checkers ≈ n/10, the rest providers; users extra)', '50')
    .option('--duration <d>', 'measured window, wall clock: 90s, 3m, 45000ms (default 3 epochs); ≥ 2 epochs')
    .option('--seed <n>', 'seed of the event schedule: the same seed gives the same schedule', '1')
    .option('--dilation <f>', 'multiply every protocol interval (epochs, heartbeats, challenge allowance, timeouts) by f ≥ 1 so more nodes fit the CPU', '1')
    .option('--epoch-ms <ms>', 'Proof of Physical Work epoch before dilation', '10000')
    .option('--heartbeat-ms <ms>', 'provider heartbeat interval before dilation', '5000')
    .option('--start-rate <n>', 'nodes started per second (0: all at once)', '0')
    .option('--gossip-heartbeat-ms <ms>', 'gossipsub heartbeat (mesh upkeep, IHAVE gossip) before dilation', '1000')
    .option('--gossip-mesh <degrees>', 'gossipsub mesh degrees of every node, e.g. d=4,dLow=3,dHigh=6,dLazy=4,dOut=1,dScore=2 (keys left out keep gossipsub\'s own)')
    .option('--latency-ms <ms>', 'latency the memory transport adds to every message', '0')
    .option('--shards <n>', 'processes to run the nodes in, one per core (this one keeps gateways, users and the schedule; more than 1 uses --transport tcp)', '1')
    .option('--transport <t>', 'links between nodes: memory (in-process; default with 1 shard) or tcp (loopback; the only one across shards)')
    .option('--kernel-links', 'with tcp: every link over loopback TCP, also between two nodes of one process (default: those stay in memory)')
    .option('--no-trunks', 'links between processes over loopback TCP, a connection each (default: one trunk socket per pair of processes carries them)')
    .option('--link-noise', 'every link runs Noise, in memory within a process and over TCP between processes (default: unencrypted, both ends being the simulator\'s own nodes)')
    .option('--json', 'print progress on stderr and one JSON object as the last stdout line')
    .option('--report <file.html>', 'write an HTML report with plots (self-contained, no network needed to view)')
    .option('--full-json <file>', 'write the whole report (every sample) as JSON')
    .action(async (flags: SimFlags & { json?: boolean, report?: string, fullJson?: string }) => {
      // Loaded here, not at the top: every other command would otherwise load the whole node
      // (the runner builds KaisarNodes) just to define this one.
      const [{ pino }, { simOptions }, { runSim, summary }] = await Promise.all([import('pino'), import('../../../sim/options.js'), import('../../../sim/runner.js')])
      const options = simOptions(flags)
      const log = (line: string): void => { process.stderr.write(`[sim] ${line}\n`) }
      // KAISAR_SIM_LOG=file: every node's log lines (info and up, or KAISAR_SIM_LOG_LEVEL) there, to see why a run went wrong.
      const logFile = process.env.KAISAR_SIM_LOG
      const logger = logFile != null && logFile !== '' ? pino({ level: process.env.KAISAR_SIM_LOG_LEVEL ?? 'info' }, pino.destination({ dest: logFile, sync: false })) : undefined
      const report = await runSim({ ...options, onProgress: log, logger })
      if (flags.report != null) {
        const { renderHtmlReport } = await import('../../../sim/report-html.js')
        await fs.writeFile(flags.report, await renderHtmlReport(report))
      }
      if (flags.fullJson != null) await fs.writeFile(flags.fullJson, JSON.stringify(report) + '\n')
      const line = summary(report)
      if (flags.json === true) { process.stdout.write(JSON.stringify(line) + '\n'); return }
      for (const [k, v] of Object.entries(line)) process.stdout.write(`${k.padEnd(20)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`)
    })
}
