// Shards: part of a run's nodes in another process, so the simulator can use more than one core
// (one JavaScript process is one core: sim/README.md). The runner keeps the ledger host, the
// gateways, the users and the schedule; each shard worker runs a share of the providers and
// checkers as the same real KaisarNodes, over loopback TCP so they reach the nodes of every other
// process. The runner drives a shard through a few requests over the fork's IPC channel; the
// shard streams its heartbeat gossip events back in batches (sim/gossip-wire.ts).
import { fork, type ChildProcess } from 'node:child_process'
import { pino } from 'pino'
import { z } from 'zod'
import { ROLES, gossipMeshSchema } from '../node/config/schema.js'
import { InProcessLinks } from '../node/network/in-process-links.js'
import { Cluster, type ClusterNode } from './cluster.js'
import { GossipBatchReader, GossipBatchWriter, type GossipBatch } from './gossip-wire.js'
import { ResourceMonitor, timedLookup, watchNode, type GossipSink, type Lookup, type WindowResources } from './metrics.js'
import { nodeSpec, type SimNodeSettings } from './node-spec.js'
import { openTrunkPort, type TrunkPort } from './trunks.js'
import { BEHAVIOURS, type NodePlan } from './schedule.js'
import type { MemoryRuntime } from './runtime.js'

/**
 * Which process runs each node other than a gateway, in the order they are placed (initial nodes
 * in plan order, then joiners): round the `processes` that take nodes. The runner's own process
 * (0) keeps the gateways, the ledger host among them. With two processes it also takes every
 * other node; with three or more it takes none, so the ledger host answers registrations from a
 * process that is not busy starting nodes of its own (at 300 nodes the providers' ledger requests
 * timed out at 15 s while it shared one: sim/README.md).
 */
export function placement (shards: number): { place: (id: string) => number, processes: number } {
  const first = shards >= 3 ? 1 : 0
  const placed = new Map<string, number>()
  const place = (id: string): number => {
    let shard = placed.get(id)
    if (shard == null) { shard = first + placed.size % (shards - first); placed.set(id, shard) }
    return shard
  }
  return { place, processes: shards - first }
}

/**
 * V8's young generation for processes that hold many simulated nodes. Hundreds of nodes keep
 * thousands of requests in flight, whose objects outlive a 16 MiB semi-space's scavenge and are
 * promoted, so the old generation grows and its mark-compacts get dearer: GC was 35 % of a
 * 500-node worker's CPU during a 1,000-node start (sim/README.md, stop 19). With 64 MiB the
 * same 200-node run (real time, two processes) used 1.02 cores against 1.11, with event-loop
 * lag p99 252 ms against 394 ms and 13.0 MiB per node against 14.3 (one run each).
 */
export const SIM_YOUNG_GENERATION_FLAGS: readonly string[] = ['--max-semi-space-size=64']

/** What a shard needs to build and start its nodes exactly as the runner would. */
export interface ShardStart {
  plans: NodePlan[]
  popw: Record<string, unknown>
  /** Nodes in the whole run (sizes a few limits, as in one process). */
  nodes: number
  epochMs: number
  heartbeatMs: number
  settings: SimNodeSettings
  /** The gateways' TCP addresses, the ledger host's first. */
  bootstrap: string[]
  startRate: number
  startConcurrency: number
  /** Links between this shard's own nodes in memory (in-process-links.ts) rather than over kernel TCP. */
  inProcessLinks: boolean
  /** Those links, and the TCP ones to other shards, run Noise (default: unencrypted, plaintext across processes). */
  linkNoise?: boolean
}

const nodePlan: z.ZodType<NodePlan> = z.object({
  id: z.string().min(1),
  role: z.enum(ROLES),
  region: z.string(),
  behaviour: z.enum(BEHAVIOURS),
  dhtServer: z.boolean(),
  initial: z.boolean()
}).strict()

const request = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('start'),
    start: z.object({
      plans: z.array(nodePlan),
      popw: z.record(z.string(), z.unknown()),
      nodes: z.number().int().positive(),
      epochMs: z.number().positive(),
      heartbeatMs: z.number().positive(),
      settings: z.object({ gossipHeartbeatMs: z.number().positive(), dhtSelfQueryMs: z.number().positive(), recordRepublishMs: z.number().positive(), gossipMesh: gossipMeshSchema.optional() }),
      bootstrap: z.array(z.string()).min(1),
      startRate: z.number().min(0),
      startConcurrency: z.number().int().positive(),
      inProcessLinks: z.boolean(),
      linkNoise: z.boolean().optional()
    })
  }),
  z.object({ op: z.literal('trunks'), connect: z.array(z.number().int().min(1).max(65535)), linkNoise: z.boolean() }),
  z.object({ op: z.literal('unadvertised') }),
  z.object({ op: z.literal('lookup'), from: z.string(), target: z.string(), timeoutMs: z.number().positive() }),
  z.object({ op: z.literal('leave'), node: z.string() }),
  z.object({ op: z.literal('join'), plan: nodePlan }),
  z.object({ op: z.literal('measure-begin'), windowMs: z.number().positive() }),
  z.object({ op: z.literal('measure-end') }),
  z.object({ op: z.literal('gossip-flush') }),
  z.object({ op: z.literal('stop') })
])
export type ShardRequest = z.infer<typeof request>

/** Worker → runner: a reply to request `id`, a batch of gossip events, or start-up progress. */
export type ShardMessage =
  | { id: number, ok: true, value: unknown }
  | { id: number, ok: false, error: string }
  | { gossip: GossipBatch }
  | { started: number }

/** The runner's handle on one shard process. */
export class ShardClient {
  private next = 0
  private readonly pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  private exited?: string
  private readonly gossip: GossipBatchReader

  private constructor (readonly index: number, private readonly child: ChildProcess, sink: GossipSink, onStarted: (n: number) => void) {
    this.gossip = new GossipBatchReader(sink)
    child.on('message', (raw: ShardMessage) => {
      if (typeof raw !== 'object' || raw == null) return // only our own worker writes here; nothing else is expected
      if ('gossip' in raw) { this.gossip.read(raw.gossip); return }
      if ('started' in raw) { onStarted(raw.started); return }
      const waiter = this.pending.get(raw.id)
      if (waiter == null) return
      this.pending.delete(raw.id)
      if (raw.ok) waiter.resolve(raw.value)
      else waiter.reject(new Error(`shard ${index}: ${raw.error}`))
    })
    child.on('exit', (code, signal) => {
      this.exited = `shard ${index} exited (${signal ?? `code ${code ?? '?'}`})`
      for (const w of this.pending.values()) w.reject(new Error(this.exited))
      this.pending.clear()
    })
  }

  /**
   * Forks a shard worker (sim/shard-main.ts); `onStarted` hears how many of its nodes are up.
   * `heapMiB` raises V8's heap limit (4 GiB by default here) for a worker that holds many nodes.
   */
  static spawn (index: number, sink: GossipSink, onStarted: (n: number) => void = () => {}, heapMiB?: number): ShardClient {
    // A young generation given to this process (by hand, or by bench/sim.ts) is kept as it is.
    const young = process.execArgv.some(a => a.startsWith('--max-semi-space-size')) ? [] : SIM_YOUNG_GENERATION_FLAGS
    const execArgv = [...process.execArgv, ...young, ...(heapMiB != null ? [`--max-old-space-size=${heapMiB}`] : [])]
    // 'advanced': structured clone over IPC, so heartbeat sequences (bigint) cross as they are.
    const child = fork(new URL('./shard-main.js', import.meta.url), [String(index)], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    return new ShardClient(index, child, sink, onStarted)
  }

  /**
   * Joins this shard's links to the other processes' by trunks (sim/trunks.ts): it connects to
   * those listening at `connect` and resolves with the port where it listens for the rest.
   */
  async trunks (connect: number[], linkNoise: boolean): Promise<number> { return await this.call({ op: 'trunks', connect, linkNoise }) as number }
  /** Starts the shard's nodes; resolves with each plan's peer id once all are up. */
  async start (start: ShardStart): Promise<Array<{ id: string, peerId: string }>> { return await this.call({ op: 'start', start }) as Array<{ id: string, peerId: string }> }
  /** Providers of this shard whose capability records are not all in the DHT yet. */
  async unadvertised (): Promise<string[]> { return await this.call({ op: 'unadvertised' }) as string[] }
  /** A DHT lookup of `target` (a peer id) from node `from` of this shard. */
  async lookup (from: string, target: string, timeoutMs: number): Promise<Lookup> { return await this.call({ op: 'lookup', from, target, timeoutMs }) as Lookup }
  async leave (node: string): Promise<void> { await this.call({ op: 'leave', node }) }
  /** Starts a node that joins during the run; resolves with its peer id. */
  async join (plan: NodePlan): Promise<string> { return await this.call({ op: 'join', plan }) as string }
  /** Starts the shard's window; the shard reads its figures itself `windowMs` later (see `measure-end`). */
  async measureBegin (windowMs: number): Promise<void> { await this.call({ op: 'measure-begin', windowMs }) }
  async measureEnd (): Promise<ShardWindow> { return await this.call({ op: 'measure-end' }) as ShardWindow }
  /** Resolves once every gossip event the shard saw so far has reached the runner's sink. */
  async flushGossip (): Promise<void> { await this.call({ op: 'gossip-flush' }) }
  /** Gossip events from this shard that could not be read (always 0 unless the wire code has a bug). */
  get gossipDropped (): number { return this.gossip.dropped }

  /** Stops the shard's nodes and the process; kills it if it has not exited within `graceMs`. */
  async stop (graceMs = 30_000): Promise<void> {
    if (this.exited != null) return
    const exited = new Promise<void>(resolve => { this.child.once('exit', () => { resolve() }) })
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, graceMs)
    try {
      await this.call({ op: 'stop' }).catch(() => {})
      // A worker killed by the timer above has no channel left to close (disconnect would throw).
      if (this.child.connected) this.child.disconnect()
      await exited
    } finally {
      clearTimeout(timer)
    }
  }

  private async call (req: ShardRequest): Promise<unknown> {
    if (this.exited != null) throw new Error(this.exited)
    const id = ++this.next
    return await new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.child.send({ id, req }, err => {
        if (err == null) return
        this.pending.delete(id)
        reject(new Error(`shard ${this.index}: ${err.message}`))
      })
    })
  }
}

/**
 * Sends the shard's gossip events to the runner every 200 ms, one batch in flight at a time. The
 * events wait here, not in the channel's write queue, so a reply to the runner never queues
 * behind more than one batch; and `drain()` says when everything seen so far was written, which
 * (the channel keeps order) is before any reply sent after it.
 */
export class GossipForwarder {
  readonly sink = new GossipBatchWriter()
  private inFlight = false
  private readonly drained: Array<() => void> = []
  private readonly timer: NodeJS.Timeout

  constructor (private readonly send: (m: ShardMessage, written: () => void) => void) {
    this.timer = setInterval(() => { this.pump() }, 200)
    this.timer.unref()
  }

  async drain (): Promise<void> {
    await new Promise<void>(resolve => { this.drained.push(resolve); this.pump() })
  }

  close (): void { clearInterval(this.timer); this.pump() }

  private pump (): void {
    if (this.inFlight) return
    const batch = this.sink.take()
    if (batch == null) { for (const resolve of this.drained.splice(0)) resolve(); return }
    this.inFlight = true
    this.send({ gossip: batch }, () => {
      this.inFlight = false
      if (this.drained.length > 0) this.pump()
    })
  }
}

/** A shard's window figures, and how many ms after the window's end its worker read them. */
export type ShardWindow = WindowResources & { endLateMs: number }

/** A node this worker runs, with its plan and (providers) its simulated container runtime. */
interface ShardMember { plan: NodePlan, member: ClusterNode, runtime?: MemoryRuntime }

/**
 * The worker's side: serves the runner's requests until `stop` (sim/shard-main.ts calls this).
 * KAISAR_SIM_LOG=file, as for the runner: this shard's nodes log to `file.shard<index>`.
 */
export function runShardWorker (index: string): void {
  const send = (m: ShardMessage): void => { process.send?.(m) }
  // The callback comes once the message was written to the channel, or failed (the runner is gone).
  const sendThen = (m: ShardMessage, written: () => void): void => { if (process.send == null) written(); else process.send(m, undefined, undefined, () => { written() }) }
  const logFile = process.env.KAISAR_SIM_LOG
  const logger = logFile != null && logFile !== '' ? pino({ level: process.env.KAISAR_SIM_LOG_LEVEL ?? 'info' }, pino.destination({ dest: `${logFile}.shard${index}`, sync: false })) : pino({ level: 'silent' })
  const gossip = new GossipForwarder(sendThen)
  const resources = new ResourceMonitor()
  const members = new Map<string, ShardMember>()
  let cluster: Cluster | undefined
  let started: ShardStart | undefined
  // Made by `trunks` (before `start`), so the nodes' links to other processes go through them.
  let links: InProcessLinks | undefined
  let trunkPort: TrunkPort | undefined

  const node = (id: string): ShardMember => {
    const m = members.get(id)
    if (m == null) throw new Error(`no node ${id} in this shard`)
    return m
  }
  // The window's figures are read when the window ends, by this worker's own timer, not when the
  // runner's `measure-end` arrives: at 1,000 nodes that reply came 395 s after the window (it
  // queued behind gossip events; GossipForwarder now keeps that short) and would have covered
  // minutes past it. `endLateMs` says how late the timer itself fired (6.7 and 12.1 s there).
  let windowTimer: NodeJS.Timeout | undefined
  let windowEnd: ShardWindow | undefined
  let windowDue = 0
  const endWindow = (): ShardWindow => {
    windowEnd ??= { ...resources.end([...members.values()].map(m => m.member.node)), endLateMs: Math.max(0, Date.now() - windowDue) }
    return windowEnd
  }

  let stopping: Promise<void> | undefined
  const stopAll = async (): Promise<void> => {
    stopping ??= (async () => {
      clearTimeout(windowTimer)
      await cluster?.stop()
      trunkPort?.close()
      for (const m of members.values()) await m.runtime?.removeAll().catch(() => {})
      gossip.close()
    })()
    await stopping
  }

  const serve = async (req: ShardRequest): Promise<unknown> => {
    switch (req.op) {
      case 'trunks': {
        if (trunkPort != null) throw new Error('trunks already joined')
        links ??= new InProcessLinks({ noise: req.linkNoise })
        trunkPort = await openTrunkPort(links)
        await trunkPort.connectTo(req.connect)
        return trunkPort.port
      }
      case 'start': {
        if (cluster != null) throw new Error('already started')
        const s = started = req.start
        const made = s.plans.map(plan => ({ plan, ...nodeSpec(plan, s.popw, s.nodes, s.epochMs, s.settings) }))
        cluster = await Cluster.start({
          nodes: made.map(m => m.spec),
          transport: 'tcp',
          ...(s.inProcessLinks ? { inProcessLinks: links ?? new InProcessLinks({ noise: s.linkNoise === true }) } : {}),
          bootstrap: s.bootstrap,
          heartbeatMs: s.heartbeatMs,
          logger,
          startConcurrency: s.startConcurrency,
          startRate: s.startRate,
          onProgress: n => { send({ started: n }) }
        })
        for (const member of cluster.nodes) {
          const m = made.find(x => x.spec === member.spec)
          if (m == null) continue
          members.set(m.plan.id, { plan: m.plan, member, runtime: m.runtime })
          watchNode(member.node, gossip.sink)
        }
        return [...members.values()].map(m => ({ id: m.plan.id, peerId: m.member.node.peerId }))
      }
      case 'unadvertised':
        return [...members.values()].filter(m => m.plan.role === 'provider' && (m.member.node.provider?.advertiser.outstanding ?? 0) > 0).map(m => m.plan.id)
      case 'lookup':
        return await timedLookup(node(req.from).member.node, req.target, req.timeoutMs)
      case 'leave': {
        const m = node(req.node)
        if (m.plan.role !== 'provider') gossip.sink.unsubscribed(m.member.node.peerId, Date.now())
        await m.member.node.stop()
        return null
      }
      case 'join': {
        if (cluster == null || started == null) throw new Error('not started')
        const { spec, runtime } = nodeSpec(req.plan, started.popw, started.nodes, started.epochMs, started.settings)
        const member = await cluster.add(spec)
        members.set(req.plan.id, { plan: req.plan, member, runtime })
        watchNode(member.node, gossip.sink)
        return member.node.peerId
      }
      case 'measure-begin':
        resources.begin()
        windowEnd = undefined
        windowDue = Date.now() + req.windowMs
        clearTimeout(windowTimer)
        windowTimer = setTimeout(endWindow, req.windowMs)
        windowTimer.unref()
        return null
      case 'measure-end':
        return endWindow()
      case 'gossip-flush':
        await gossip.drain()
        return null
      case 'stop':
        await stopAll()
        return null
    }
  }

  process.on('message', (raw: unknown) => {
    const envelope = raw as { id?: unknown, req?: unknown }
    const id = typeof envelope?.id === 'number' ? envelope.id : -1
    const parsed = request.safeParse(envelope?.req)
    if (!parsed.success) { send({ id, ok: false, error: `bad request: ${parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ')}` }); return }
    serve(parsed.data).then(
      value => { send({ id, ok: true, value }) },
      (err: Error) => { send({ id, ok: false, error: err.message }) }
    )
  })
  // The runner went away (it crashed or was killed): stop the nodes rather than linger.
  process.on('disconnect', () => { stopAll().catch(() => {}).finally(() => process.exit(0)) })
}
