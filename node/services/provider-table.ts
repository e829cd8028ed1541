// The live provider table gateways and checkers keep from heartbeats: who is online, with
// what free capacity, at which addresses. A provider is offline after `missedBeforeOffline` of
// its own intervals.
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { heartbeatTopic } from '../network/gossip/topics.js'
import type { Heartbeat } from '../../protocols/gossip/heartbeat.js'
import type { GossipService } from '../network/gossip/service.js'
import type { GossipMessage } from '../network/gossip/topic.js'
import type { NodeMetrics } from '../metrics/registry.js'
import type { Startable } from '@libp2p/interface'

export type HeartbeatStatus = Omit<Heartbeat, 'addresses'>

export interface ProviderStatus {
  peerId: string
  online: boolean
  lastSeen: number
  heartbeat: HeartbeatStatus
  /** Where it listens, as its last heartbeat said. */
  addresses: string[]
}

/** Addresses are kept as they came and parsed only when asked for: heartbeats are many, dials to one provider few. */
interface Entry { lastSeen: number, sentAt: number, heartbeat: HeartbeatStatus, addresses: Uint8Array[] }

export class ProviderTable implements Startable {
  private readonly gossip: GossipService
  private readonly metrics: NodeMetrics
  private readonly missedBeforeOffline: number
  private readonly entries = new Map<string, Entry>()
  private readonly now: () => number

  constructor (components: { gossip: GossipService, metrics: NodeMetrics }, init: { missedBeforeOffline: number, now?: () => number }) {
    this.gossip = components.gossip
    this.metrics = components.metrics
    this.missedBeforeOffline = init.missedBeforeOffline
    this.now = init.now ?? Date.now
  }

  async start (): Promise<void> {
    this.gossip.register(heartbeatTopic, msg => { this.onHeartbeat(msg) })
    this.metrics.providersOnlineSource = () => this.counts().online
  }

  async stop (): Promise<void> {
    this.metrics.providersOnlineSource = undefined
  }

  onHeartbeat (msg: GossipMessage<Heartbeat>): void {
    const key = msg.signer.toString()
    const prev = this.entries.get(key)
    // Gossip may reorder: keep the newest by the provider's own clock.
    if (prev != null && prev.sentAt >= msg.timestamp) return
    const { addresses, ...heartbeat } = msg.value
    this.entries.set(key, { lastSeen: this.now(), sentAt: msg.timestamp, heartbeat, addresses })
    this.metrics.heartbeatsReceived.inc()
  }

  /**
   * The addresses an online provider's last heartbeat gave (empty: none known), each ending with
   * the provider's own id: a dial to one authenticates that peer whatever the heartbeat said.
   */
  addressesOf (peerId: string): Multiaddr[] {
    const entry = this.entries.get(peerId)
    return entry != null && this.online(entry) ? dialable(peerId, entry.addresses) : []
  }

  isOnline (peerId: string): boolean {
    const entry = this.entries.get(peerId)
    return entry != null && this.online(entry)
  }

  /** How many providers are known and online, without building their statuses (the metrics scrape reads it). */
  counts (): { online: number, known: number } {
    let online = 0
    for (const entry of this.entries.values()) if (this.online(entry)) online++
    return { online, known: this.entries.size }
  }

  /** One provider's status; its addresses are parsed here, so callers that need one ask for one. */
  get (peerId: string): ProviderStatus | undefined {
    const e = this.entries.get(peerId)
    return e == null ? undefined : this.status(peerId, e)
  }

  list (): ProviderStatus[] {
    return [...this.entries].map(([peerId, e]) => this.status(peerId, e))
  }

  private online (e: Entry): boolean {
    return this.now() - e.lastSeen <= e.heartbeat.intervalMs * this.missedBeforeOffline
  }

  private status (peerId: string, e: Entry): ProviderStatus {
    return { peerId, online: this.online(e), lastSeen: e.lastSeen, heartbeat: e.heartbeat, addresses: dialable(peerId, e.addresses).map(ma => ma.toString()) }
  }
}

/** The topic's validator parsed each address once already; one that fails here is left out. */
function dialable (peerId: string, addresses: Uint8Array[]): Multiaddr[] {
  const own = `/p2p/${peerId}`
  return addresses.flatMap(bytes => {
    try {
      const ma = multiaddr(bytes)
      return [ma.toString().endsWith(own) ? ma : ma.encapsulate(own)]
    } catch { return [] }
  })
}
