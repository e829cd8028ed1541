// What the simulator measures while a scenario runs: heartbeat gossip (each publish against
// each subscriber that was up to receive it), DHT lookups, orders, and the process's own cost
// (RSS, CPU, event-loop lag). Pure bookkeeping: the runner feeds it, the report reads it.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { heartbeatTopic } from '../node/network/gossip/topics.js'
import type { Heartbeat } from '../protocols/gossip/heartbeat.js'
import type { KaisarNode } from '../node/node.js'

export function percentile (values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))] as number
}

interface Publish { publisher: string, at: number, receipts: Map<string, number> }
interface Lifetime { from: number, to?: number }

/**
 * Gossip delivery on kaisar/heartbeat/1, the topic every provider publishes on and every gateway
 * and checker subscribes to. A publish is expected at a subscriber that was running from before
 * the publish until `graceMs` after it; a receipt's latency is from the publish call to the
 * subscriber's handler (one process, one clock).
 */
export class GossipProbe {
  private readonly publishes = new Map<string, Publish>()
  private readonly subscribers = new Map<string, Lifetime>()

  watchPublisher (node: KaisarNode): void {
    const gossip = node.gossip
    const publish = gossip.publish.bind(gossip)
    const peer = node.peerId
    // Wraps this node's publish: the simulator must know what was sent, not only what arrived.
    gossip.publish = async (spec, value) => {
      if (spec.topic === heartbeatTopic.topic) {
        const hb = value as Heartbeat
        this.publishes.set(`${peer}/${hb.sequence}`, { publisher: peer, at: Date.now(), receipts: new Map() })
      }
      return await publish(spec, value)
    }
  }

  watchSubscriber (node: KaisarNode): void {
    const peer = node.peerId
    this.subscribers.set(peer, { from: Date.now() })
    node.gossip.register(heartbeatTopic, msg => {
      const p = this.publishes.get(`${msg.signer.toString()}/${msg.value.sequence}`)
      if (p != null && !p.receipts.has(peer)) p.receipts.set(peer, Date.now() - p.at)
    })
  }

  subscriberStopped (peer: string): void {
    const s = this.subscribers.get(peer)
    if (s != null) s.to = Date.now()
  }

  /**
   * Every (publish, subscriber) pair expected for publishes in [from, to - graceMs]: the
   * subscriber was up from before the publish until `graceMs` after it. `ms` is the receipt's
   * latency, undefined when it never arrived.
   */
  pairs (from: number, to: number, graceMs: number): GossipPair[] {
    const out: GossipPair[] = []
    for (const p of this.publishes.values()) {
      if (p.at < from || p.at > to - graceMs) continue
      for (const [peer, life] of this.subscribers) {
        if (peer === p.publisher || life.from > p.at || (life.to != null && life.to < p.at + graceMs)) continue
        out.push({ publisher: p.publisher, subscriber: peer, at: p.at, ms: p.receipts.get(peer) })
      }
    }
    return out
  }

  /** Publishes in [from, to - graceMs]: delivery ratio and latencies, over the pairs `expect` keeps (default all). */
  summary (from: number, to: number, graceMs: number, expect: (pair: GossipPair) => boolean = () => true): { published: number, expected: number, delivered: number, latenciesMs: number[] } {
    let published = 0
    for (const p of this.publishes.values()) if (p.at >= from && p.at <= to - graceMs) published++
    const counted = this.pairs(from, to, graceMs).filter(expect)
    const latenciesMs = counted.flatMap(p => p.ms != null ? [p.ms] : [])
    return { published, expected: counted.length, delivered: latenciesMs.length, latenciesMs }
  }
}

/** One heartbeat publish against one subscriber that should have received it. */
export interface GossipPair { publisher: string, subscriber: string, at: number, ms?: number }

export interface TimedResult { at: number, ok: boolean, ms: number, error?: string }

/** RSS against node count while starting, then RSS, CPU and event-loop lag over the measured window. */
export class ResourceMonitor {
  readonly startup: Array<{ nodes: number, rssMiB: number }> = []
  readonly samples: Array<{ t: number, rssMiB: number }> = []
  private cpu0?: NodeJS.CpuUsage
  private wall0 = 0
  private loop?: IntervalHistogram
  private timer?: NodeJS.Timeout
  readonly baselineRssMiB = rssMiB()

  onStarted (nodes: number): void { this.startup.push({ nodes, rssMiB: rssMiB() }) }

  begin (): void {
    this.cpu0 = process.cpuUsage()
    this.wall0 = performance.now()
    this.loop = monitorEventLoopDelay({ resolution: 20 })
    this.loop.enable()
    this.timer = setInterval(() => { this.samples.push({ t: Date.now(), rssMiB: rssMiB() }) }, 2000)
    this.timer.unref()
  }

  end (): { cpuCores: number, rssMaxMiB: number, loopP50Ms: number, loopP99Ms: number, loopMaxMs: number } {
    clearInterval(this.timer)
    this.loop?.disable()
    const cpu = process.cpuUsage(this.cpu0)
    const wallMs = performance.now() - this.wall0
    this.samples.push({ t: Date.now(), rssMiB: rssMiB() })
    const ns = (x: number | undefined): number => (x ?? NaN) / 1e6
    return {
      cpuCores: (cpu.user + cpu.system) / 1000 / Math.max(1, wallMs),
      rssMaxMiB: Math.max(...this.samples.map(s => s.rssMiB)),
      loopP50Ms: ns(this.loop?.percentile(50)),
      loopP99Ms: ns(this.loop?.percentile(99)),
      loopMaxMs: ns(this.loop?.max)
    }
  }
}

export function rssMiB (): number {
  return process.memoryUsage().rss / 2 ** 20
}
