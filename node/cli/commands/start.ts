// `kaisar-node start`: run a node until SIGINT/SIGTERM (or, under a devnet, until the
// devnet process goes away), then stop every service and close the stores.
import { Command } from 'commander'
import { addNetworkOptions, addNodeOptions, givenFlags } from '../options.js'

/**
 * Resolves on the first SIGINT/SIGTERM (or loss of the devnet parent). Installed before the
 * node starts, so a signal during start-up still leads to a clean stop rather than a kill.
 */
function shutdownSignal (onForce: () => void): Promise<string> {
  return new Promise(resolve => {
    let firstAt: number | undefined
    const on = (why: string): void => {
      if (firstAt == null) { firstAt = Date.now(); resolve(why); return }
      // A terminal's Ctrl-C and a supervisor's SIGTERM often arrive together: only a signal
      // repeated well after the first means "stop now, without cleaning up".
      if (Date.now() - firstAt > 3_000) onForce()
    }
    process.on('SIGINT', () => { on('SIGINT') })
    process.on('SIGTERM', () => { on('SIGTERM') })
    // Started by `devnet` with an IPC channel: when the devnet process dies, so do we.
    if (process.send != null) process.once('disconnect', () => { on('parent exited') })
  })
}

export function startCommand (processStart: number): Command {
  const cmd = new Command('start')
    .description('run a node in a role until interrupted')
    .option('--json', 'print one JSON line when ready ({"event":"ready",...}) instead of text')
  addNodeOptions(cmd)
  addNetworkOptions(cmd)
  cmd.action(async (opts: Record<string, unknown>) => {
    // Loaded here, not at the top: `--help` and the other commands should not pay for the
    // config schema (zod, multiaddr) and the logger.
    const [{ loadConfig }, { createLogger }] = await Promise.all([import('../../config/load.js'), import('../../log.js')])
    const config = await loadConfig({ file: opts.config as string | undefined, env: process.env, flags: givenFlags(opts) })
    const logger = createLogger(config.logLevel, { role: config.role })
    const stopRequested = shutdownSignal(() => {
      logger.warn('signal repeated: exiting without a clean stop')
      process.exit(130)
    })
    // The data dir is checked before the node's modules load (a few ms), so an unwritable one
    // fails at once rather than after libp2p has loaded; create checks it again, harmlessly (the
    // check only writes and removes a probe file).
    const { prepareDataDir } = await import('../../store/data-dir.js')
    await prepareDataDir(config.dataDir)
    // Loaded only now: config errors should not pay for libp2p and the node's own modules.
    const { KaisarNode } = await import('../../node.js')
    const node = await KaisarNode.create(config, { logger, processStart })
    await node.start()

    const ready = { event: 'ready', peerId: node.peerId, role: config.role, addresses: node.addresses(), api: node.api?.url ?? '', wallet: node.identity.wallet.address, pid: process.pid }
    if (opts.json === true) {
      process.stdout.write(JSON.stringify(ready) + '\n')
    } else {
      process.stdout.write(`kaisar-node ${config.role} ready\n  peer id  ${node.peerId}\n  wallet   ${ready.wallet}\n  api      ${ready.api}\n` +
        ready.addresses.map(a => `  listen   ${a}\n`).join(''))
    }

    const why = await stopRequested
    logger.info({ why }, 'shutting down')
    await node.stop()
    // The process exits as soon as this returns (bin/kaisar-node.js says why).
  })
  return cmd
}
