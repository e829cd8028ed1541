// The `kaisar-node` command line. Operator mistakes (bad config, port in use, ...) print
// one line on stderr and exit non-zero; a stack trace only with --log-level debug/trace.
import { Command, CommanderError } from 'commander'
import { isOperatorError, errorMessage } from '../errors.js'
import { VERSION } from '../version.js'
import { benchmarkCommand } from './commands/benchmark.js'
import { devnetCommand } from './commands/devnet.js'
import { idCommand } from './commands/id.js'
import { inventoryCommand } from './commands/inventory.js'
import { startCommand } from './commands/start.js'
import { providersCommand } from './commands/providers.js'
import { simCommand } from './commands/sim.js'
import { outcomesCommand } from './commands/outcomes.js'
import { peersCommand, pingCommand, statusCommand } from './commands/status.js'
import { cancelCommand, connectCommand, leasesCommand, logsCommand, orderCommand } from './commands/user.js'
import { walletCommand } from './commands/wallet.js'

export function buildProgram (processStart = Date.now()): Command {
  const program = new Command('kaisar-node')
    .description('Kaisar decentralized GPU-compute network node: provider, checker or gateway')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  program.addCommand(startCommand(processStart))
  program.addCommand(devnetCommand())
  program.addCommand(idCommand())
  program.addCommand(statusCommand())
  program.addCommand(peersCommand())
  program.addCommand(pingCommand())
  program.addCommand(walletCommand())
  program.addCommand(providersCommand())
  program.addCommand(orderCommand())
  program.addCommand(connectCommand())
  program.addCommand(leasesCommand())
  program.addCommand(cancelCommand())
  program.addCommand(logsCommand())
  program.addCommand(outcomesCommand())
  program.addCommand(inventoryCommand())
  program.addCommand(benchmarkCommand())
  program.addCommand(simCommand())
  return program
}

function wantsStack (argv: string[]): boolean {
  const i = argv.indexOf('--log-level')
  const level = i >= 0 ? argv[i + 1] : argv.find(a => a.startsWith('--log-level='))?.split('=')[1] ?? process.env.KAISAR_LOG_LEVEL
  return level === 'debug' || level === 'trace'
}

export async function main (argv: string[] = process.argv, processStart = Date.now()): Promise<void> {
  const program = buildProgram(processStart)
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed help or its own one-line error.
      process.exitCode = err.exitCode
      return
    }
    if (wantsStack(argv)) {
      process.stderr.write(`kaisar-node: ${(err as Error)?.stack ?? String(err)}\n`)
    } else {
      process.stderr.write(`kaisar-node: ${errorMessage(err)}${isOperatorError(err) ? '' : ' (run with --log-level debug for details)'}\n`)
    }
    process.exitCode = 1
  }
}
