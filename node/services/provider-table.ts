// The live provider table gateways and checkers keep from heartbeats: who is online, with
// what free capacity. A provider is offline after `missedBeforeOffline` of its own intervals.
import { heartbeatTopic } from '../network/gossip/topics.js'
import type { Heartbeat } from '../../protocols/gossip/heartbeat.js'
import type { GossipService } from '../network/gossip/service.js'
import type { GossipMessage } from '../network/gossip/topic.js'
import type { NodeMetrics } from '../metrics/registry.js'
import type { Startable } from '@libp2p/interface'

export interface ProviderStatus {
  peerId: string
  online: boolean
  lastSeen: number
  heartbeat: Heartbeat
}

export class ProviderTable implements Startable {
  private readonly gossip: GossipService
  private readonly metrics: NodeMetrics
  private readonly missedBeforeOffline: number
  private readonly entries = new Map<string, { lastSeen: number, sentAt: number, heartbeat: Heartbeat }>()
  private readonly now: () => number
  private timer?: NodeJS.Timeout

  constructor (components: { gossip: GossipService, metrics: NodeMetrics }, init: { missedBeforeOffline: number, now?: () => number }) {
    this.gossip = components.gossip
    this.metrics = components.metrics
    this.missedBeforeOffline = init.missedBeforeOffline
    this.now = init.now ?? Date.now
  }

  async start (): Promise<void> {
    this.gossip.register(heartbeatTopic, msg => { this.onHeartbeat(msg) })
    this.timer = setInterval(() => { this.metrics.providersOnline.set(this.list().filter(p => p.online).length) }, 1000)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
  }

  onHeartbeat (msg: GossipMessage<Heartbeat>): void {
    const key = msg.signer.toString()
    const prev = this.entries.get(key)
    // Gossip may reorder: keep the newest by the provider's own clock.
    if (prev != null && prev.sentAt >= msg.timestamp) return
    this.entries.set(key, { lastSeen: this.now(), sentAt: msg.timestamp, heartbeat: msg.value })
    this.metrics.heartbeatsReceived.inc()
  }

  isOnline (peerId: string): boolean {
    const entry = this.entries.get(peerId)
    return entry != null && this.now() - entry.lastSeen <= entry.heartbeat.intervalMs * this.missedBeforeOffline
  }

  list (): ProviderStatus[] {
    return [...this.entries].map(([peerId, e]) => ({ peerId, online: this.isOnline(peerId), lastSeen: e.lastSeen, heartbeat: e.heartbeat }))
  }
}
