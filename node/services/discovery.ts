// Finding providers from any node (DESIGN §1.5): a DHT lookup under the most selective
// capability key, each candidate's signed record fetched and verified, its claimed inventory
// checked against the filter, joined with the live heartbeat table where this node keeps one.
import { setTimeout as wait } from 'node:timers/promises'
import { capabilityCid, type Capability } from '../../protocols/capabilities.js'
import { RECORD_NAMESPACES } from '../../protocols/ids.js'
import { ProviderRecord } from '../../protocols/records/provider-record.js'
import { gpuModelById } from '../hardware/gpu-models.js'
import { decodeInventory, type HardwareInventory } from '../hardware/schema.js'
import type { Logger } from '../log.js'
import type { KaisarLibp2p } from '../network/libp2p.js'
import type { SignedRecordStore } from '../network/records/store.js'
import type { ProviderTable } from './provider-table.js'
import type { PeerId } from '@libp2p/interface'

export interface ProviderFilter {
  /** GPU model id (`h100-sxm`) or class (`datacenter`); providers with at least one such GPU. */
  gpu?: string
  /** Minimum memory of one GPU, GiB. */
  minVramGiB?: number
  /** ISO 3166-1 alpha-2 region. */
  region?: string
  /** How many providers to return at most. */
  limit?: number
}

export interface DiscoveredProvider {
  peerId: string
  recordVersion: string
  signedAt: number
  wallet: string
  region: string
  softwareVersion: string
  addresses: string[]
  cpus: number
  memoryBytes: number
  gpus: Array<{ model: string | null, name: string, vramMiB: number | null }>
  prices: unknown
  benchmark: unknown
  /** From this node's heartbeat table: undefined when it keeps none or never heard the provider. */
  online?: boolean
  lastSeen?: number
  freeGpus?: number
}

/** The longest wait between two lookups that found nothing. */
const MAX_RETRY_WAIT_MS = 1_000

export class Discovery {
  constructor (private readonly c: { libp2p: KaisarLibp2p, records: SignedRecordStore, logger: Logger, providerTable?: ProviderTable }) {}

  /** The capability key that narrows `filter` the most. */
  static keyFor (filter: ProviderFilter): Capability {
    if (filter.gpu != null) {
      return gpuModelById(filter.gpu) != null ? { kind: 'gpu-model', value: filter.gpu } : { kind: 'gpu-class', value: filter.gpu }
    }
    if (filter.region != null) return { kind: 'region', value: filter.region }
    return { kind: 'provider', value: '' }
  }

  static matches (inv: HardwareInventory, region: string, filter: ProviderFilter): boolean {
    if (filter.region != null && region !== filter.region) return false
    const minVramMiB = (filter.minVramGiB ?? 0) * 1024
    const gpus = inv.gpus.filter(g => {
      if ((g.vramMiB ?? 0) < minVramMiB) return false
      if (filter.gpu == null) return true
      const model = g.model != null ? gpuModelById(g.model) : undefined
      return g.model === filter.gpu || model?.class === filter.gpu
    })
    return (filter.gpu == null && filter.minVramGiB == null) || gpus.length > 0
  }

  async find (filter: ProviderFilter, options: { timeoutMs?: number } = {}): Promise<DiscoveredProvider[]> {
    const signal = AbortSignal.timeout(options.timeoutMs ?? 10_000)
    const key = Discovery.keyFor(filter)
    const peers = new Map<string, PeerId>()
    // A lookup can come back empty while the routing table fills (right after joining) or when
    // the closest peers' answers time out (a busy network): ask again while time remains, not a
    // fixed number of times. Five tries used to end after ≈ 5 s of a 10 s budget, and an order
    // then failed "no provider matches" in a region with dozens of providers (sim/README.md).
    for (let attempt = 0; peers.size === 0 && !signal.aborted; attempt++) {
      // Cut short when the budget runs out (the loop then ends).
      if (attempt > 0) await wait(Math.min(250 * attempt, MAX_RETRY_WAIT_MS), undefined, { signal }).catch(() => {})
      try {
        for await (const p of this.c.libp2p.contentRouting.findProviders(capabilityCid(key), { signal })) {
          peers.set(p.id.toString(), p.id)
          if (peers.size >= 200) break
        }
      } catch (err) {
        // A lookup that times out still returns what it found so far.
        if (!signal.aborted) this.c.logger.debug({ err: (err as Error).message }, 'findProviders failed')
      }
    }
    const found = await Promise.all([...peers.values()].map(async peer => await this.describe(peer, AbortSignal.timeout(options.timeoutMs ?? 10_000)).catch(() => undefined)))
    const result = found.filter((p): p is DiscoveredProvider & { inv: HardwareInventory } => p != null && Discovery.matches(p.inv, p.region, filter))
      .map(({ inv: _inv, ...p }) => p)
      .sort((a, b) => Number(b.online ?? false) - Number(a.online ?? false) || a.peerId.localeCompare(b.peerId))
    return filter.limit != null ? result.slice(0, filter.limit) : result
  }

  /** A provider's verified record, decoded; undefined when it has none (or none that verifies). */
  async describe (peer: PeerId, signal?: AbortSignal): Promise<(DiscoveredProvider & { inv: HardwareInventory }) | undefined> {
    const rec = await this.c.records.fetch(RECORD_NAMESPACES.provider, peer, signal)
    if (rec == null) return undefined
    const record = ProviderRecord.decode(rec.payload)
    const inv = decodeInventory(record.inventoryJson)
    const live = this.c.providerTable?.get(peer.toString())
    return {
      peerId: peer.toString(),
      recordVersion: rec.version.toString(),
      signedAt: rec.timestamp,
      wallet: record.wallet,
      region: record.region,
      softwareVersion: record.softwareVersion,
      addresses: record.addresses,
      cpus: inv.cpu.threads,
      memoryBytes: inv.memory.totalBytes,
      gpus: inv.gpus.map(g => ({ model: g.model, name: g.name, vramMiB: g.vramMiB })),
      prices: record.pricesJson !== '' ? JSON.parse(record.pricesJson) as unknown : null,
      benchmark: record.benchmarkJson !== '' ? JSON.parse(record.benchmarkJson) as unknown : null,
      online: live?.online,
      lastSeen: live?.lastSeen,
      freeGpus: live?.heartbeat.freeGpus,
      inv
    }
  }
}
