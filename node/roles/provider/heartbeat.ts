// A provider's heartbeat on kaisar/heartbeat/1: uptime, free capacity, running leases,
// record version, listen addresses. Gateways and checkers keep their live provider table from it.
import { HEARTBEAT_MAX_ADDRESSES, heartbeatTopic } from '../../network/gossip/topics.js'
import type { Heartbeat } from '../../../protocols/gossip/heartbeat.js'
import type { Logger } from '../../log.js'
import type { GossipService } from '../../network/gossip/service.js'
import type { Startable } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface Capacity { freeCpus: number, freeMemoryBytes: bigint, freeGpus: number, runningLeases: number }

export interface HeartbeatPublisherInit {
  intervalMs: number
  capacity: () => Capacity
  recordVersion: () => bigint
  /** This provider's listen addresses as they are now (a relay reservation adds one). */
  addresses: () => Multiaddr[]
}

export class HeartbeatPublisher implements Startable {
  private readonly gossip: GossipService
  private readonly log: Logger
  private readonly init: HeartbeatPublisherInit
  private readonly startedAt = Date.now()
  private sequence = 0n
  private timer?: NodeJS.Timeout

  constructor (components: { gossip: GossipService, logger: Logger }, init: HeartbeatPublisherInit) {
    this.gossip = components.gossip
    this.log = components.logger
    this.init = init
  }

  async start (): Promise<void> {
    // Publish only, never subscribe: no provider reads another's heartbeats, and a subscribed
    // provider would join the topic's mesh and forward every provider's beats (O(N) work per
    // beat on each of N providers). gossipsub floods a publish to the connected subscribers
    // (gateways, which the bootstrap dialer keeps connected, and checkers), whose mesh does the rest.
    // First beat soon after start (once the mesh can form), then every interval.
    this.schedule(Math.min(1_000, this.init.intervalMs))
  }

  async stop (): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Publishes one heartbeat now; returns the number of peers it went to. */
  async beat (): Promise<number> {
    const hb: Heartbeat = {
      uptimeS: BigInt(Math.floor((Date.now() - this.startedAt) / 1000)),
      intervalMs: this.init.intervalMs,
      ...this.init.capacity(),
      recordVersion: this.init.recordVersion(),
      sequence: this.sequence++,
      addresses: this.init.addresses().slice(0, HEARTBEAT_MAX_ADDRESSES).map(ma => ma.bytes)
    }
    return await this.gossip.publish(heartbeatTopic, hb)
  }

  private schedule (delayMs: number): void {
    this.timer = setTimeout(() => {
      this.beat()
        .catch(err => { this.log.warn({ err: (err as Error).message }, 'heartbeat publish failed') })
        .finally(() => { if (this.timer != null) this.schedule(this.init.intervalMs) })
    }, delayMs)
    this.timer.unref()
  }
}
