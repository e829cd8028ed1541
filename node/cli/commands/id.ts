// `kaisar-node id`: the node's PeerId and wallet address (keys are created if absent,
// exactly as `start` would, so an operator can learn them before the first start).
import { Command } from 'commander'
import path from 'node:path'
import os from 'node:os'
import { ROLES } from '../../config/names.js'
import { ConfigError } from '../../errors.js'

export function idCommand (): Command {
  return new Command('id')
    .description("show this node's peer id and wallet address")
    .option('--data-dir <dir>', 'data dir of the node (default ~/.kaisar/<role>)')
    .option('--role <role>', 'role whose default data dir to use')
    .option('--json', 'print JSON')
    .action(async (opts: { dataDir?: string, role?: string, json?: boolean }) => {
      const dataDir = opts.dataDir ?? process.env.KAISAR_DATA_DIR ?? (opts.role != null ? defaultDir(opts.role) : undefined)
      if (dataDir == null) throw new ConfigError('dataDir', 'give --data-dir (or --role to use ~/.kaisar/<role>)')
      // Loaded here, not at the top: the other commands should not pay for LevelDB and the keystore.
      const { prepareDataDir } = await import('../../store/data-dir.js')
      const layout = await prepareDataDir(dataDir)
      const { loadOrCreateIdentity } = await import('../../identity/keystore.js')
      const identity = await loadOrCreateIdentity(layout.root, process.env.KAISAR_PASSPHRASE)
      const out = { peerId: identity.peerId.toString(), wallet: identity.wallet.address, walletType: identity.wallet.type, dataDir: layout.root }
      process.stdout.write(opts.json === true ? JSON.stringify(out) + '\n' : `peer id  ${out.peerId}\nwallet   ${out.wallet} (${out.walletType})\ndata dir ${out.dataDir}\n`)
    })
}

function defaultDir (role: string): string {
  if (!(ROLES as readonly string[]).includes(role)) throw new ConfigError('role', `must be one of ${ROLES.join(', ')} (got ${JSON.stringify(role)})`)
  return path.join(os.homedir(), '.kaisar', role)
}
