// Flags shared by the commands that build a node config (start, id, wallet, ...).
// Their names match CONFIG_KEYS' `flag` (commander camel-cases --data-dir to dataDir).
import { Option, type Command } from 'commander'
import { LOG_LEVELS, ROLES } from '../config/names.js'

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

export function addNodeOptions (cmd: Command): Command {
  return cmd
    .option('--role <role>', `node role: ${ROLES.join(' | ')}`)
    .option('--data-dir <dir>', 'where keys, peer store and state live (default ~/.kaisar/<role>)')
    .option('--config <file>', 'JSON config file (precedence: defaults < file < env KAISAR_* < flags)')
    .option('--log-level <level>', `log level: ${LOG_LEVELS.join(' | ')}`)
}

export function addNetworkOptions (cmd: Command): Command {
  return cmd
    .option('--listen <multiaddr>', 'listen address, repeatable (default /ip4/0.0.0.0/tcp/4001 and /ip4/0.0.0.0/tcp/4002/ws)', collect)
    .option('--announce <multiaddr>', 'address to announce instead of the listen addresses, repeatable', collect)
    .option('--bootstrap <multiaddr>', 'bootstrap peer (…/p2p/<peer id>), repeatable', collect)
    .option('--api <host:port>', 'HTTP API address (default 127.0.0.1:7001; gateways 0.0.0.0:8080)')
    .option('--chain <chain>', 'ledger: "local" (embedded, default) or a peaq node ws:// URL')
    .option('--peaq-escrow <address>', 'on peaq: the deployment\'s escrow (custody) account')
    .option('--region <cc>', 'ISO 3166-1 alpha-2 region the node runs in')
    .option('--inventory-file <file>', 'provider: hardware inventory JSON to use instead of probing this machine')
    .option('--benchmark <mode>', 'provider: benchmark job at registration: full | quick | skip (default full, cached per inventory)')
    .option('--containers <engine>', 'provider: container engine for leases: docker (DOCKER_HOST or the default socket) | none | memory (simulation only; default docker)')
    .option('--stake <tokens>', 'provider: stake to lock on the ledger (default 100)')
    .option('--heartbeat-interval <ms>', 'provider heartbeat interval in milliseconds (default 15000)')
    .addOption(new Option('--ledger-host', 'host the local ledger on this node (the devnet gateway does)'))
    .option('--ledger-peer <multiaddr>', 'the local ledger\'s host (…/p2p/<peer id>); default: the first bootstrap peer')
}

/** Only the flags the user actually gave (commander leaves the others undefined). */
export function givenFlags (opts: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined))
}
