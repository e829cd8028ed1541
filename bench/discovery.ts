// `npm run bench -- discovery [--nodes 50] [--lookups 100]`: provider discovery among real
// nodes in one process (memory transport): time to the first provider of a DHT lookup
// (findProviders), time to fetch and verify its signed record, and the whole lookup
// (until the DHT query ends), p50/p99 over lookups from checkers and gateways; failed lookups
// are counted by cause (no provider found, record not found, record fetch failed).
import { capabilityCid, type Capability } from '../protocols/capabilities.js'
import { RECORD_NAMESPACES } from '../protocols/ids.js'
import { Cluster, type ClusterNodeSpec } from '../sim/cluster.js'
import { profileInventory } from '../sim/hardware.js'
import { log, percentile, round } from './lib.js'

function arg (args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}

const CAPS: Capability[] = [
  { kind: 'gpu-model', value: 'h100-sxm' }, { kind: 'gpu-model', value: 'a100-sxm-80gb' }, { kind: 'gpu-model', value: 'rtx-4090' },
  { kind: 'gpu-class', value: 'datacenter' }, { kind: 'cpu-only', value: '' }, { kind: 'region', value: 'DE' }, { kind: 'provider', value: '' }
]

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const total = arg(args, '--nodes', 50)
  const lookups = arg(args, '--lookups', 100)
  const gateways = Math.max(1, Math.round(total / 25))
  const checkers = Math.max(1, Math.round(total / 6))
  const providers = total - gateways - checkers
  // Discovery alone: checkers' probes (seeded matrix challenges, 4 MiB bandwidth transfers)
  // would share this one process's CPU with the DHT, so their epochs are stretched to a day,
  // which leaves at most a probe or two inside the run.
  const config = { popw: { epochMs: 86_400_000 } }
  const nodes: ClusterNodeSpec[] = [
    ...Array<ClusterNodeSpec>(gateways).fill({ role: 'gateway', config }),
    ...[...Array(providers).keys()].map(i => ({ role: 'provider' as const, region: i % 3 === 0 ? 'DE' : 'US', inventory: profileInventory(i), config })),
    ...Array<ClusterNodeSpec>(checkers).fill({ role: 'checker', config })
  ]
  log(`starting ${total} nodes (${gateways} gateways, ${providers} providers, ${checkers} checkers) in one process`)
  const t0 = performance.now()
  const cluster = await Cluster.start({ nodes, heartbeatMs: 15_000 })
  const startS = (performance.now() - t0) / 1000
  try {
    log('waiting for every provider to put its record and provide its capabilities')
    const t1 = performance.now()
    // Capabilities not yet provided, plus records not yet put (a lookup's second step fetches the record).
    const outstanding = (): number => cluster.byRole('provider').reduce((n, p) => n + (p.node.provider?.advertiser.outstanding ?? 1) + (p.node.provider?.publisher.published === true ? 0 : 1), 0)
    let lastLog = performance.now()
    while (outstanding() > 0) {
      if (performance.now() - t1 > 600_000) throw new Error(`providers did not finish providing in 600 s (${outstanding()} capabilities and records outstanding)`)
      if (performance.now() - lastLog > 15_000) { lastLog = performance.now(); log(`${outstanding()} capabilities and records not yet in the DHT`) }
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    const provideS = (performance.now() - t1) / 1000
    const askers = [...cluster.byRole('checker'), ...cluster.byRole('gateway')]
    const first: number[] = []
    const fetch: number[] = []
    const whole: number[] = []
    let ok = 0
    const failures = { no_provider: 0, no_record: 0, fetch_error: 0 }
    log(`${lookups} lookups`)
    for (let i = 0; i < lookups; i++) {
      const asker = askers[i % askers.length]?.node
      const cap = CAPS[i % CAPS.length] as Capability
      if (asker == null) break
      const start = performance.now()
      let firstAt: number | undefined
      let fetchMs: number | undefined
      let fetchFailed = false
      try {
        for await (const p of asker.libp2p.contentRouting.findProviders(capabilityCid(cap), { signal: AbortSignal.timeout(10_000) })) {
          if (firstAt != null) continue // the whole lookup runs on, to time it
          firstAt = performance.now() - start
          const f0 = performance.now()
          try {
            const rec = await asker.records.fetch(RECORD_NAMESPACES.provider, p.id, AbortSignal.timeout(10_000))
            if (rec != null) fetchMs = performance.now() - f0
          } catch (err) {
            fetchFailed = true
            log(`lookup ${i} (${cap.kind} ${cap.value}): record fetch failed: ${(err as Error).name} ${(err as Error).message}`)
          }
        }
      } catch (err) {
        if (firstAt == null) log(`lookup ${i} (${cap.kind} ${cap.value}): no provider: ${(err as Error).name} ${(err as Error).message}`)
      }
      if (firstAt != null && fetchMs != null) {
        ok++; first.push(firstAt); fetch.push(fetchMs); whole.push(performance.now() - start)
      } else if (firstAt == null) failures.no_provider++
      else if (fetchFailed) failures.fetch_error++
      else failures.no_record++
    }
    const s = (xs: number[]): number[] => [...xs].sort((a, b) => a - b)
    return {
      // Every provider is online and has put its record: a lookup that finds no provider or no
      // record is a discovery failure, and the bench fails on more than 1 in 100.
      ok: ok / lookups >= 0.99,
      nodes: total,
      lookups,
      lookup_success: round(ok / lookups),
      lookup_failures: failures,
      first_provider_p50_ms: round(percentile(s(first), 50), 1),
      first_provider_p99_ms: round(percentile(s(first), 99), 1),
      record_fetch_p50_ms: round(percentile(s(fetch), 50), 1),
      record_fetch_p99_ms: round(percentile(s(fetch), 99), 1),
      lookup_total_p50_ms: round(percentile(s(whole), 50), 1),
      lookup_total_p99_ms: round(percentile(s(whole), 99), 1),
      cluster_start_s: round(startS, 1),
      provide_all_s: round(provideS, 1),
      rss_mib: round(process.memoryUsage().rss / 2 ** 20, 0)
    }
  } finally {
    await cluster.stop()
  }
}
