// What the simulator measures while a scenario runs: heartbeat gossip (each publish against
// each subscriber that was up to receive it), DHT lookups, orders, and the process's own cost
// (RSS, CPU, event-loop lag). Pure bookkeeping: the runner feeds it, the report reads it.
import { readFileSync, readdirSync } from 'node:fs'
import { PerformanceObserver, monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { peerIdFromString } from '@libp2p/peer-id'
import { heartbeatTopic } from '../node/network/gossip/topics.js'
import type { Heartbeat } from '../protocols/gossip/heartbeat.js'
import type { KaisarNode } from '../node/node.js'

export function percentile (values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))] as number
}

/**
 * The largest value, 0 for none. Not `Math.max(...values)`: a long run has hundreds of
 * thousands of gossip receipts, and spreading them as arguments overflows the call stack
 * (a 500-node run lost its report to that after 50 minutes).
 */
export function maxOf (values: readonly number[]): number {
  let max = 0
  for (const v of values) if (v > max) max = v
  return max
}

interface Lifetime { from: number, to?: number }

/**
 * Where heartbeat gossip events go: the GossipProbe itself when the nodes run in the runner's
 * process, a shard's forwarder (sim/shard.ts) when they run in another. Times are wall-clock ms
 * (`Date.now()`): every shard runs on this machine's one clock.
 */
export interface GossipSink {
  published: (publisher: string, sequence: bigint | number, at: number) => void
  received: (publisher: string, sequence: bigint | number, subscriber: string, at: number) => void
  subscribed: (peer: string, at: number) => void
  unsubscribed: (peer: string, at: number) => void
}

/** Heartbeats: a provider publishes them, gateways and checkers receive them. */
export function watchNode (node: KaisarNode, sink: GossipSink): void {
  if (node.config.role === 'provider') watchPublisher(node, sink)
  else watchSubscriber(node, sink)
}

/** Wraps this node's publish: the simulator must know what was sent, not only what arrived. */
function watchPublisher (node: KaisarNode, sink: GossipSink): void {
  const gossip = node.gossip
  const publish = gossip.publish.bind(gossip)
  const peer = node.peerId
  gossip.publish = async (spec, value) => {
    if (spec.topic === heartbeatTopic.topic) sink.published(peer, (value as Heartbeat).sequence, Date.now())
    return await publish(spec, value)
  }
}

function watchSubscriber (node: KaisarNode, sink: GossipSink): void {
  const peer = node.peerId
  sink.subscribed(peer, Date.now())
  node.gossip.register(heartbeatTopic, msg => { sink.received(msg.signer.toString(), msg.value.sequence, peer, Date.now()) })
}

/**
 * Gossip delivery on kaisar/heartbeat/1, the topic every provider publishes on and every gateway
 * and checker subscribes to. A publish is expected at a subscriber that was running from before
 * the publish until `graceMs` after it; a receipt's latency is from the publish call to the
 * subscriber's handler. Receipts are kept apart from publishes: from another shard a receipt
 * can arrive before the publish it answers.
 */
export class GossipProbe implements GossipSink {
  private readonly publishes = new Map<string, { publisher: string, at: number }>()
  private readonly receipts = new Map<string, Map<string, number>>()
  private readonly subscribers = new Map<string, Lifetime>()

  published (publisher: string, sequence: bigint | number, at: number): void {
    this.publishes.set(`${publisher}/${sequence}`, { publisher, at })
  }

  received (publisher: string, sequence: bigint | number, subscriber: string, at: number): void {
    const key = `${publisher}/${sequence}`
    const seen = this.receipts.get(key) ?? new Map<string, number>()
    if (!seen.has(subscriber)) seen.set(subscriber, at)
    this.receipts.set(key, seen)
  }

  subscribed (peer: string, at: number): void { this.subscribers.set(peer, { from: at }) }

  unsubscribed (peer: string, at: number): void {
    const s = this.subscribers.get(peer)
    if (s != null) s.to = at
  }

  subscriberStopped (peer: string): void { this.unsubscribed(peer, Date.now()) }

  /**
   * Every (publish, subscriber) pair expected for publishes in [from, to - graceMs]: the
   * subscriber was up from before the publish until `graceMs` after it. `ms` is the receipt's
   * latency, undefined when it never arrived.
   */
  pairs (from: number, to: number, graceMs: number): GossipPair[] {
    const out: GossipPair[] = []
    for (const [key, p] of this.publishes) {
      if (p.at < from || p.at > to - graceMs) continue
      const receipts = this.receipts.get(key)
      for (const [peer, life] of this.subscribers) {
        if (peer === p.publisher || life.from > p.at || (life.to != null && life.to < p.at + graceMs)) continue
        const at = receipts?.get(peer)
        out.push({ publisher: p.publisher, subscriber: peer, at: p.at, ms: at != null ? Math.max(0, at - p.at) : undefined })
      }
    }
    return out
  }

  /** Publishes in [from, to - graceMs]: delivery ratio and latencies, over the pairs `expect` keeps (default all). */
  summary (from: number, to: number, graceMs: number, expect: (pair: GossipPair) => boolean = () => true): { published: number, expected: number, delivered: number, latenciesMs: number[], missed: GossipMisses } {
    let published = 0
    for (const p of this.publishes.values()) if (p.at >= from && p.at <= to - graceMs) published++
    const counted = this.pairs(from, to, graceMs).filter(expect)
    const latenciesMs = counted.flatMap(p => p.ms != null ? [p.ms] : [])
    return { published, expected: counted.length, delivered: latenciesMs.length, latenciesMs, missed: gossipMisses(counted) }
  }
}

/**
 * Where the missing receipts are: spread thinly over everyone (messages lost in transit or
 * late), or concentrated on a few publishers nobody hears or subscribers that hear nobody (a
 * node cut off from the mesh). Peers are peer ids; `worst` holds the five with most misses.
 */
export interface GossipMisses {
  publishers: number
  subscribers: number
  worstPublishers: Array<{ peer: string, missed: number, expected: number }>
  worstSubscribers: Array<{ peer: string, missed: number, expected: number }>
}

export function gossipMisses (pairs: readonly GossipPair[]): GossipMisses {
  const by = (key: (p: GossipPair) => string): Array<{ peer: string, missed: number, expected: number }> => {
    const counts = new Map<string, { missed: number, expected: number }>()
    for (const p of pairs) {
      const c = counts.get(key(p)) ?? { missed: 0, expected: 0 }
      c.expected++
      if (p.ms == null) c.missed++
      counts.set(key(p), c)
    }
    return [...counts].filter(([, c]) => c.missed > 0).map(([peer, c]) => ({ peer, ...c })).sort((a, b) => b.missed - a.missed)
  }
  const publishers = by(p => p.publisher)
  const subscribers = by(p => p.subscriber)
  return { publishers: publishers.length, subscribers: subscribers.length, worstPublishers: publishers.slice(0, 5), worstSubscribers: subscribers.slice(0, 5) }
}

/** One heartbeat publish against one subscriber that should have received it. */
export interface GossipPair { publisher: string, subscriber: string, at: number, ms?: number }

export interface TimedResult { at: number, ok: boolean, ms: number, error?: string }

/** A DHT lookup's outcome and time, without the run's clock (`TimedResult` minus `at`). */
export type Lookup = Omit<TimedResult, 'at'>

/** Finds `target`'s signed record in the DHT from `from`, as the simulator's `dht-lookup` events do. */
export async function timedLookup (from: KaisarNode, target: string, timeoutMs: number): Promise<Lookup> {
  const t = performance.now()
  try {
    const found = await from.discovery.describe(peerIdFromString(target), AbortSignal.timeout(timeoutMs))
    return { ok: found != null, ms: performance.now() - t, ...(found == null ? { error: 'not found' } : {}) }
  } catch (err) {
    return { ok: false, ms: performance.now() - t, error: (err as Error).message }
  }
}

/**
 * One process's cost over the measured window (RSS before any node started as the baseline),
 * and at its end the open connection ends of the process's running nodes (a connection between
 * two simulated nodes counts at both ends): every connection costs upkeep whether it carries
 * anything or not, so how many a node holds is part of what a node costs. `trimmed`: the
 * connections those nodes' trimmers closed since each started (connection-trimmer.ts); one a
 * peer dials again soon after is churn, a handshake and an identify exchange paid twice.
 */
export interface WindowResources {
  cpuCores: number, rssMaxMiB: number, baselineRssMiB: number, loopP50Ms: number, loopP99Ms: number, loopMaxMs: number, nodes: number, connections: number, trimmed: number, stalls: LoopStall[], gcMaxMs: number
  /** The most file descriptors the process held, sampled (−1 where /proc does not say), and its limit (−1: unknown). */
  fdMax: number, fdLimit: number
}

/**
 * One of a process's longest event-loop stalls (≥ STALL_MS): when it ended (Unix ms) and how
 * long the loop ran nothing else. A stall stops every node of the process at once (their
 * probes, answers and heartbeats), so when it falls in the epoch says what it hit.
 */
export interface LoopStall { at: number, ms: number }

/** Stalls shorter than this are the lag histogram's business; longer ones are kept, with their times. */
export const STALL_MS = 1000
/** The longest stalls a process keeps. */
const KEPT_STALLS = 8
const STALL_TICK_MS = 100

/** Keeps the `KEPT_STALLS` longest of `stalls` plus `stall`, in time order. */
export function keepLongestStalls (stalls: readonly LoopStall[], stall: LoopStall): LoopStall[] {
  return [...stalls, stall].sort((a, b) => b.ms - a.ms).slice(0, KEPT_STALLS).sort((a, b) => a.at - b.at)
}

/** A run's cost over all its processes (sim/shard.ts): CPU and RSS add up; the loop's lag is the worst process's. */
export function combineResources (all: WindowResources[]): WindowResources {
  const sum = (f: (r: WindowResources) => number): number => all.reduce((a, r) => a + f(r), 0)
  const worst = (f: (r: WindowResources) => number): number => Math.max(...all.map(f))
  return { cpuCores: sum(r => r.cpuCores), rssMaxMiB: sum(r => r.rssMaxMiB), baselineRssMiB: sum(r => r.baselineRssMiB), loopP50Ms: worst(r => r.loopP50Ms), loopP99Ms: worst(r => r.loopP99Ms), loopMaxMs: worst(r => r.loopMaxMs), nodes: sum(r => r.nodes), connections: sum(r => r.connections), trimmed: sum(r => r.trimmed), stalls: all.flatMap(r => r.stalls).sort((a, b) => a.at - b.at), gcMaxMs: worst(r => r.gcMaxMs), fdMax: worst(r => r.fdMax), fdLimit: Math.min(...all.map(r => r.fdLimit)) }
}

/** RSS against node count while starting, then RSS, CPU and event-loop lag over the measured window. */
export class ResourceMonitor {
  readonly startup: Array<{ nodes: number, rssMiB: number }> = []
  readonly samples: Array<{ t: number, rssMiB: number }> = []
  private cpu0?: NodeJS.CpuUsage
  private wall0 = 0
  private loop?: IntervalHistogram
  private timer?: NodeJS.Timeout
  private stallTimer?: NodeJS.Timeout
  private stalls: LoopStall[] = []
  private gc?: PerformanceObserver
  private gcMaxMs = 0
  private fdMax = -1
  readonly baselineRssMiB = rssMiB()

  onStarted (nodes: number): void { this.startup.push({ nodes, rssMiB: rssMiB() }) }

  begin (): void {
    this.cpu0 = process.cpuUsage()
    this.wall0 = performance.now()
    this.loop = monitorEventLoopDelay({ resolution: 20 })
    this.loop.enable()
    this.fdMax = openFds()
    this.timer = setInterval(() => {
      const rss = rssMiB()
      if (!Number.isNaN(rss)) this.samples.push({ t: Date.now(), rssMiB: rss })
      this.fdMax = Math.max(this.fdMax, openFds())
    }, 2000)
    this.timer.unref()
    this.stalls = []
    this.gcMaxMs = 0
    let last = performance.now()
    this.stallTimer = setInterval(() => {
      const now = performance.now()
      const stalled = now - last - STALL_TICK_MS
      last = now
      if (stalled >= STALL_MS) this.stalls = keepLongestStalls(this.stalls, { at: Date.now(), ms: Math.round(stalled) })
    }, STALL_TICK_MS)
    this.stallTimer.unref()
    // A stall that is one long collection is the heap's size, not our code: the report tells them apart.
    this.gc = new PerformanceObserver(list => { for (const e of list.getEntries()) this.gcMaxMs = Math.max(this.gcMaxMs, e.duration) })
    this.gc.observe({ entryTypes: ['gc'] })
  }

  /** The window's figures; `nodes` are the nodes this process runs (the stopped ones are skipped). */
  end (nodes: Iterable<KaisarNode>): WindowResources {
    const running = [...nodes].filter(n => n.isRunning)
    clearInterval(this.timer)
    clearInterval(this.stallTimer)
    this.gc?.disconnect()
    this.loop?.disable()
    const cpu = process.cpuUsage(this.cpu0)
    const wallMs = performance.now() - this.wall0
    this.samples.push({ t: Date.now(), rssMiB: rssMiB() })
    const ns = (x: number | undefined): number => (x ?? NaN) / 1e6
    return {
      cpuCores: (cpu.user + cpu.system) / 1000 / Math.max(1, wallMs),
      rssMaxMiB: maxOf(this.samples.map(s => s.rssMiB)),
      loopP50Ms: ns(this.loop?.percentile(50)),
      loopP99Ms: ns(this.loop?.percentile(99)),
      loopMaxMs: ns(this.loop?.max),
      baselineRssMiB: this.baselineRssMiB,
      nodes: running.length,
      connections: running.reduce((n, node) => n + node.libp2p.getConnections().length, 0),
      trimmed: running.reduce((n, node) => n + node.libp2p.services.trimmer.trimmed, 0),
      stalls: this.stalls,
      gcMaxMs: Math.round(this.gcMaxMs),
      fdMax: Math.max(this.fdMax, openFds()),
      fdLimit: fdLimit()
    }
  }
}

/** The process's resident memory, MiB; NaN when it cannot be read (it opens /proc, which fails with EMFILE when the descriptors ran out). */
export function rssMiB (): number {
  try { return process.memoryUsage.rss() / 2 ** 20 } catch { return NaN }
}

// File descriptors: every connection between two of a run's processes is a socket at each end,
// and the kernel's limit per process (20,000 on this machine, not raisable without privileges)
// ended a 1,000-node run (sim/README.md, stops 27 and 29). Linux only; −1 elsewhere.

/** Descriptors the process holds now (−1: unknown). */
export function openFds (): number {
  try { return readdirSync('/proc/self/fd').length } catch { return -1 }
}

/** The process's soft limit on open files (−1: unknown). */
export function fdLimit (): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find(l => l.startsWith('Max open files'))
    const soft = Number(line?.split(/\s{2,}/)[1])
    return Number.isSafeInteger(soft) ? soft : -1
  } catch { return -1 }
}
