// `kaisar-node status` and `kaisar-node peers`: read a running node's API.
import { Command } from 'commander'
import { getJson } from '../api-client.js'
import type { NodeStatus, PeerInfo } from '../../node.js'

function short (id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}

function peerLines (peers: PeerInfo[]): string {
  if (peers.length === 0) return '  (no peers)\n'
  return peers.map(p => `  ${short(p.peerId).padEnd(16)} ${(p.role ?? '?').padEnd(9)} ${p.direction.padEnd(8)} ${p.addresses[0] ?? ''}${p.limited ? ' (relayed)' : ''}\n`).join('')
}

export function statusCommand (): Command {
  return new Command('status')
    .description("show a running node's status")
    .option('--api <url>', 'node API URL (default http://127.0.0.1:7001, or KAISAR_API_URL)')
    .option('--json', 'print JSON')
    .action(async (opts: { api?: string, json?: boolean }) => {
      const status = await getJson<NodeStatus>(opts.api, '/api/v1/status')
      if (opts.json === true) { process.stdout.write(JSON.stringify(status) + '\n'); return }
      process.stdout.write(`${status.role} ${status.peerId} (kaisar-node ${status.version}, up ${status.uptimeS}s)\n` +
        `wallet ${status.wallet}\napi    ${status.api}\n` + status.addresses.map(a => `listen ${a}\n`).join('') +
        (status.providers != null ? `providers online ${status.providers.online} of ${status.providers.known}\n` : '') +
        `peers (${status.peers.length}):\n` + peerLines(status.peers))
    })
}

export function peersCommand (): Command {
  return new Command('peers')
    .description("list a running node's connected peers")
    .option('--api <url>', 'node API URL (default http://127.0.0.1:7001, or KAISAR_API_URL)')
    .option('--json', 'print JSON')
    .action(async (opts: { api?: string, json?: boolean }) => {
      const peers = await getJson<PeerInfo[]>(opts.api, '/api/v1/peers')
      process.stdout.write(opts.json === true ? JSON.stringify(peers) + '\n' : peerLines(peers))
    })
}

export function pingCommand (): Command {
  return new Command('ping')
    .description('ping a peer from a running node (libp2p ping over its connection)')
    .argument('<peer>', 'peer id')
    .option('--api <url>', 'node API URL (default http://127.0.0.1:7001, or KAISAR_API_URL)')
    .option('--json', 'print JSON')
    .action(async (peer: string, opts: { api?: string, json?: boolean }) => {
      const result = await getJson<{ peerId: string, rttMs: number }>(opts.api, `/api/v1/peers/${encodeURIComponent(peer)}/ping`, 15_000)
      process.stdout.write(opts.json === true ? JSON.stringify(result) + '\n' : `${result.peerId}: ${result.rttMs} ms\n`)
    })
}
