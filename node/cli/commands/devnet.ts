// `kaisar-node devnet`: a whole network on loopback, as separate processes, until Ctrl-C.
import { Command } from 'commander'
import os from 'node:os'
import path from 'node:path'
import { ConfigError } from '../../errors.js'
import { LOG_LEVELS, type LogLevel } from '../../config/names.js'

/** Devnets beyond this belong in the simulator. */
const MAX_DEVNET_NODES = 50

function count (name: string, min: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min || n > MAX_DEVNET_NODES) throw new ConfigError(name, `must be a whole number from ${min} to ${MAX_DEVNET_NODES} (got ${JSON.stringify(value)})`)
    return n
  }
}

function port (value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1024 || n > 65535 - 200) throw new ConfigError('base-port', `must be a port from 1024 to ${65535 - 200} (got ${JSON.stringify(value)})`)
  return n
}

export function devnetCommand (): Command {
  return new Command('devnet')
    .description('run a local network (gateways, providers, checkers) on loopback until Ctrl-C')
    .option('--providers <n>', 'providers', count('providers', 0), 2)
    .option('--checkers <n>', 'checkers', count('checkers', 0), 3)
    .option('--gateways <n>', 'gateways (the first hosts the local ledger)', count('gateways', 1), 1)
    .option('--base-port <port>', 'first port: node i listens on base+2i (tcp), base+2i+1 (ws), API on base+100+i', port, 4000)
    .option('--data-dir <dir>', 'root of the nodes\' data dirs (kept between runs)', path.join(os.homedir(), '.kaisar', 'devnet'))
    .option('--log-level <level>', `nodes' log level: ${LOG_LEVELS.join(' | ')}`, 'info')
    .option('--heartbeat-interval <ms>', 'provider heartbeat interval in ms', '5000')
    .option('--docker <mode>', 'container engine for providers: auto (use one that answers) | start (scripts/docker-engine.sh start) | none', 'auto')
    .option('--json', 'print the nodes as one JSON line when ready')
    .action(async (opts: { providers: number, checkers: number, gateways: number, basePort: number, dataDir: string, logLevel: string, heartbeatInterval: string, docker: string, json?: boolean }) => {
      if (!(LOG_LEVELS as readonly string[]).includes(opts.logLevel)) throw new ConfigError('log-level', `must be one of ${LOG_LEVELS.join(', ')}`)
      if (!['auto', 'start', 'none'].includes(opts.docker)) throw new ConfigError('docker', 'must be auto, start or none')
      const { Devnet, findDockerEngine } = await import('../../devnet/devnet.js')
      const engine = opts.docker === 'none' ? { why: 'asked for none' } : await findDockerEngine(opts.docker === 'start')
      if (engine.dockerHost == null && opts.providers > 0) {
        process.stderr.write(`devnet: no container engine (${engine.why.split('\n')[0] ?? ''}); providers take no leases — start one with: scripts/docker-engine.sh start (or kaisar-node devnet --docker start)\n`)
      }
      const devnet = new Devnet({
        providers: opts.providers,
        checkers: opts.checkers,
        gateways: opts.gateways,
        basePort: opts.basePort,
        dataDir: path.resolve(opts.dataDir),
        logLevel: opts.logLevel as LogLevel,
        heartbeatIntervalMs: Number(opts.heartbeatInterval),
        dockerHost: engine.dockerHost
      })
      let stopping: Promise<void> | undefined
      const stop = async (code: number): Promise<never> => {
        stopping ??= devnet.stop()
        await stopping
        process.exit(code)
      }
      process.on('SIGINT', () => { process.stderr.write('\nstopping the devnet…\n'); void stop(0) })
      process.on('SIGTERM', () => { void stop(0) })

      process.stderr.write(`starting ${devnet.nodes.length} nodes in ${path.resolve(opts.dataDir)} …\n`)
      try {
        await devnet.start((node, code, signal) => {
          process.stderr.write(`${node.name} exited (${signal ?? `code ${String(code)}`}); log: ${node.logFile}\n`)
        })
      } catch (err) {
        await devnet.stop()
        throw err
      }
      if (opts.json === true) {
        process.stdout.write(JSON.stringify({ event: 'ready', api: devnet.gateway.apiUrl, nodes: devnet.nodes }) + '\n')
      } else {
        process.stdout.write(`\nkaisar devnet ready: ${devnet.nodes.length} nodes\n\n`)
        for (const n of devnet.nodes) {
          process.stdout.write(`  ${n.name.padEnd(12)} ${(n.peerId ?? '').padEnd(54)} api ${n.apiUrl}  pid ${String(n.pid)}\n`)
        }
        process.stdout.write(`\n  Explorer / API: ${devnet.gateway.apiUrl}/\n  status:         kaisar-node status --api ${devnet.gateway.apiUrl}\n  logs:           ${path.resolve(opts.dataDir)}/<node>/node.log\n\nCtrl-C stops every node.\n`)
      }
      await new Promise(() => {}) // until a signal
    })
}
