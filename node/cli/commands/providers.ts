// `kaisar-node providers`: find providers from any node — DHT lookup by capability, each
// record fetched and verified, joined with the node's live heartbeat table.
import { Command } from 'commander'
import { getJson } from '../api-client.js'
import type { DiscoveredProvider } from '../../services/discovery.js'

export function providersCommand (): Command {
  return new Command('providers')
    .description('find providers (DHT lookup + verified records + live status) through a running node')
    .option('--gpu <model>', 'GPU model id (h100-sxm, rtx-4090, …) or class (datacenter, workstation, consumer)')
    .option('--min-vram <GiB>', 'minimum memory of one GPU, GiB')
    .option('--region <cc>', 'ISO 3166-1 alpha-2 region')
    .option('--limit <n>', 'at most this many')
    .option('--timeout <ms>', 'lookup time limit (default 10000)')
    .option('--api <url>', 'node API URL (default http://127.0.0.1:7001, or KAISAR_API_URL)')
    .option('--json', 'print JSON')
    .action(async (opts: { gpu?: string, minVram?: string, region?: string, limit?: string, timeout?: string, api?: string, json?: boolean }) => {
      const q = new URLSearchParams()
      if (opts.gpu != null) q.set('gpu', opts.gpu.toLowerCase())
      if (opts.minVram != null) q.set('min_vram', opts.minVram)
      if (opts.region != null) q.set('region', opts.region.toUpperCase())
      if (opts.limit != null) q.set('limit', opts.limit)
      if (opts.timeout != null) q.set('timeout_ms', opts.timeout)
      const list = await getJson<DiscoveredProvider[]>(opts.api, `/api/v1/discovery/providers?${q.toString()}`, Number(opts.timeout ?? 10_000) + 10_000)
      if (opts.json === true) { process.stdout.write(JSON.stringify(list) + '\n'); return }
      if (list.length === 0) { process.stdout.write('no provider matches\n'); return }
      for (const p of list) {
        const gpus = p.gpus.length === 0 ? 'cpu only' : p.gpus.map(g => `${g.model ?? g.name}${g.vramMiB != null ? ` ${Math.round(g.vramMiB / 1024)}G` : ''}`).join(', ')
        const state = p.online == null ? '' : p.online ? ' online' : ' offline'
        process.stdout.write(`${p.peerId}  ${p.region || '--'}  ${p.cpus} cpu  ${Math.round(p.memoryBytes / 2 ** 30)} GiB  ${gpus}  v${p.recordVersion}${state}\n`)
      }
    })
}
