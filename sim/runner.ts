// Runs one scenario: builds the schedule from the seed, starts the real nodes (sim/cluster.ts),
// waits for their registrations and one epoch of warm-up, plays the schedule's events in the
// measured window, then reads the outcomes back from the ledger host and reports.
import { pino } from 'pino'
import { VerdictResult } from '../protocols/popw/popw.js'
import { keyToString } from '../protocols/popw/verdict.js'
import { placeOrder } from '../node/user/order.js'
import { DEFAULT_DHT_SELF_QUERY_MS, DEFAULT_RECORD_REPUBLISH_MS, gossipMeshSchema, type GossipMesh } from '../node/config/schema.js'
import { Cluster, SIM_KEEP_ALIVE_MS, type ClusterNode, type ClusterNodeSpec } from './cluster.js'
import { GossipProbe, ResourceMonitor, combineResources, maxOf, percentile, timedLookup, watchNode, type GossipMisses, type TimedResult } from './metrics.js'
import { meshText, nodeSpec, popwConfig, type SimNodeSettings } from './node-spec.js'
import { Partition, type PartitionedNode } from './partition.js'
import { partitionReport, unreachablePair, type PartitionReport, type SplitLog } from './partition-report.js'
import { ShardClient, placement } from './shard.js'
import { InProcessLinks } from '../node/network/in-process-links.js'
import { openTrunkPort, type TrunkPort } from './trunks.js'
import type { MemoryRuntime } from './runtime.js'
import { CHEATING, scheduleHash, type NodePlan, type SimEvent, type SimSchedule } from './schedule.js'
import { buildSchedule } from './scenarios/index.js'
import { startSimUser } from './user.js'
import type { LocalChain } from '../chain/local/chain.js'
import type { Logger } from '../node/log.js'
import type { KaisarNode } from '../node/node.js'
import type { UserNode } from '../node/user/user-node.js'
import type { Order } from '../protocols/lease/messages.js'

export interface SimOptions {
  scenario: string
  nodes: number
  seed: number
  /** Wall-clock length of the measured window, ms. */
  durationMs: number
  /** Stretches every protocol interval (heartbeats, epochs, challenge allowance, timeouts). */
  dilation: number
  /** Epoch length before dilation (default 10 s, as the devnet). */
  baseEpochMs?: number
  /** Heartbeat interval before dilation (default 5 s). */
  baseHeartbeatMs?: number
  /** Nodes started per second (0: all at once). */
  startRate?: number
  /** gossipsub's heartbeat before dilation (default 1 s, gossipsub's own). */
  baseGossipHeartbeatMs?: number
  /** gossipsub's mesh degrees on every node (default gossipsub's own, as the node's config). */
  gossipMesh?: GossipMesh
  /** Per-message latency of the memory transport, ms. */
  latencyMs?: number
  /**
   * Processes the nodes run in (default 1). This one keeps the gateways (the ledger host among
   * them), the users and the schedule, plus half of the rest with two processes and none with
   * more; each other shard is a forked worker (sim/shard.ts) with its share. More than one needs
   * the TCP transport.
   */
  shards?: number
  /** 'memory' (default with one shard) or 'tcp' (loopback; the only choice with several shards). */
  transport?: 'memory' | 'tcp'
  /**
   * TCP: links between two nodes of the same process in memory (node/network/in-process-links.ts),
   * kernel TCP only between processes. Default true; false puts every link on loopback TCP (as
   * before stop 19), to measure what it buys.
   */
  inProcessLinks?: boolean
  /** Links run Noise, in a process and between processes (default false: unencrypted, in-process-links.ts says why). */
  linkNoise?: boolean
  /**
   * Links between processes through one trunk socket per pair (default true; sim/trunks.ts), or
   * over loopback TCP, one connection each (false: the way before stop 30, to measure the difference).
   */
  trunks?: boolean
  logger?: Logger
  /** Progress lines (stderr in the CLI). */
  onProgress?: (line: string) => void
}

export const MIN_NODES = 8
/** A shard worker's V8 heap limit per node it holds (twice the RSS a node measured, for GC headroom). */
const WORKER_HEAP_MIB_PER_NODE = 24
export const SIM_ORDER: Order = { image: 'sim/echo:1', cpus: 1, memoryBytes: 64 * 2 ** 20, gpus: 0, ports: [80], seconds: 600 }

export interface ProviderVerdict {
  id: string
  behaviour: string
  passes: number
  fails: number
  judged: 'caught' | 'missed' | 'clean' | 'failed' | 'unjudged'
  /** The process it ran in (0: the runner's own; sim/shard.ts). */
  shard: number
  /** Checkers' reasons on its failing outcomes, `epoch:reason` (0 = the first measured epoch). */
  reasons: string[]
  /** Measured epochs (0 = the first) with a passing / failing outcome. */
  passedIn: number[]
  failedIn: number[]
}

export interface EpochRow { epoch: number, outcomes: number, pass: number, fail: number, settled: boolean, penalties: number }

export interface SimReport {
  scenario: string
  seed: number
  nodes: number
  users: number
  dilation: number
  epochMs: number
  heartbeatMs: number
  /** gossipsub's mesh degrees when the run set them (`--gossip-mesh`); gossipsub's own otherwise. */
  gossipMesh?: GossipMesh
  durationMs: number
  shards: number
  transport: 'memory' | 'tcp'
  /** TCP: whether links inside a process stayed in memory. */
  inProcessLinks: boolean
  /** The links' encryption: none (in memory unencrypted, libp2p's plaintext between processes), or Noise on all of them. */
  linkEncryption: 'none' | 'noise'
  /** Links between processes went through one trunk socket per pair (sim/trunks.ts), not a TCP connection each. */
  trunks: boolean
  scheduleHash: string
  events: number
  /** Events played, by kind (a leave of a node already gone is not played). */
  played: Record<SimEvent['kind'], number>
  /** Providers at the start of the measured window. */
  providersAtStart: number
  wallS: { start: number, register: number, measured: number, total: number }
  gossip: { published: number, expected: number, delivered: number, ratio: number, p50Ms: number, p99Ms: number, maxMs: number, latenciesMs: number[], missed: GossipMisses }
  dht: { lookups: number, ok: number, ratio: number, p50Ms: number, p99Ms: number, results: TimedResult[] }
  orders: { total: number, ok: number, ratio: number, deployP50Ms: number, deployP99Ms: number, failures: string[], results: TimedResult[] }
  outcomes: { cheatersTotal: number, cheatersCaught: number, honestJudged: number, honestFailed: number, providers: ProviderVerdict[], epochs: EpochRow[] }
  /** `id:judgement` per provider, sorted: equal for equal runs. */
  outcomeSet: string[]
  /**
   * Over every process of the run: CPU and RSS summed, event-loop lag the worst process's.
   * `startup` is this process's RSS against its own nodes; `processes` each shard on its own.
   */
  resources: { baselineRssMiB: number, rssMaxMiB: number, rssPerNodeMiB: number, cpuCores: number, cpuPerNodePct: number, connectionsPerNode: number, trimmedPerNode: number, loopP50Ms: number, loopP99Ms: number, loopMaxMs: number, startup: Array<{ nodes: number, rssMiB: number }>, processes: ProcessResources[] }
  /** Scenario `partition`: the split, each side on its own, and the heal. */
  partition?: PartitionReport
  degraded: string[]
}

/** One process of a run (shard 0 is the runner's own). */
export interface ProcessResources {
  shard: number
  nodes: number
  cpuCores: number
  rssMaxMiB: number
  loopP99Ms: number
  loopMaxMs: number
  /** The longest garbage collection pause. */
  gcMaxMs: number
  /** The most file descriptors it held (sampled every 2 s) and its limit; −1 where unknown. */
  fdMax: number
  fdLimit: number
  /** The process's longest event-loop stalls (≥ 1 s): when each ended, how far into its epoch, and how long. */
  stalls: Array<{ at: string, intoEpochMs: number, ms: number }>
}

/** A node of the run: in this process (`member`) or in a shard worker (`shard`). */
interface Running { plan: NodePlan, peerId: string, member?: ClusterNode, shard?: ShardClient, runtime?: MemoryRuntime, startedAt: number, stoppedAt?: number }

function localNode (r: Running): KaisarNode {
  if (r.member == null) throw new Error(`${r.plan.id} runs in shard ${r.shard?.index ?? '?'}, not in this process`)
  return r.member.node
}

export async function runSim (opts: SimOptions): Promise<SimReport> {
  const progress = opts.onProgress ?? (() => {})
  const schedule = buildSchedule({ scenario: opts.scenario, nodes: opts.nodes, seed: opts.seed, durationMs: opts.durationMs, baseEpochMs: opts.baseEpochMs ?? 10_000, baseHeartbeatMs: opts.baseHeartbeatMs ?? 5_000, dilation: opts.dilation })
  const tAll = performance.now()
  const resources = new ResourceMonitor()
  const gossip = new GossipProbe()
  const popw = popwConfig(schedule, opts.nodes)
  // gossipsub's heartbeat, kad-dht's self-query and the record republishing dilate with every
  // other interval (libp2p's other timers do not: no knob).
  const gossipHeartbeatMs = Math.round((opts.baseGossipHeartbeatMs ?? 1000) * schedule.dilation)
  const settings: SimNodeSettings = {
    gossipHeartbeatMs,
    dhtSelfQueryMs: DEFAULT_DHT_SELF_QUERY_MS * schedule.dilation,
    recordRepublishMs: DEFAULT_RECORD_REPUBLISH_MS * schedule.dilation,
    ...(opts.gossipMesh != null ? { gossipMesh: opts.gossipMesh } : {})
  }
  const running = new Map<string, Running>()
  // A scenario that splits the network gives every node (and user) a gater from the start: it lets everything through until the split.
  const cut = schedule.events.find((e): e is Extract<SimEvent, { kind: 'partition' }> => e.kind === 'partition')
  const partition = cut != null ? new Partition(new Set(cut.group)) : undefined
  const split: SplitLog = { connectionsCut: 0, crossConnectionsSeen: 0, orders: [], dhtSameSide: [], dhtAcross: [] }
  let crossSampler: NodeJS.Timeout | undefined
  const specOf = (plan: NodePlan): { spec: ClusterNodeSpec, runtime?: MemoryRuntime } => {
    const made = nodeSpec(plan, popw, opts.nodes, schedule.epochMs, settings)
    if (partition != null) made.spec.connectionGater = partition.gater(plan.id)
    return made
  }

  const shardCount = opts.shards ?? 1
  const transport = opts.transport ?? (shardCount > 1 ? 'tcp' : 'memory')
  if (shardCount > 1 && transport !== 'tcp') throw new Error('several shards need the tcp transport: the memory transport does not cross processes')
  // The cut is a connection gater in each node's process, and the report reads every node's connections: one process only.
  if (shardCount > 1 && partition != null) throw new Error('the partition scenario runs in one shard')
  const initial = schedule.nodes.filter(p => p.initial)
  const { place, processes } = placement(shardCount)
  const shardOf = new Map(initial.map(p => [p.id, p.role === 'gateway' ? 0 : place(p.id)]))
  const localPlans = initial.filter(p => (shardOf.get(p.id) ?? 0) === 0)
  const specs = localPlans.map(specOf)
  const inProcessLinks = transport === 'tcp' && opts.inProcessLinks !== false
  const linkNoise = opts.linkNoise === true
  const trunked = inProcessLinks && shardCount > 1 && opts.trunks !== false
  progress(`${schedule.scenario}: starting ${initial.length} nodes in ${shardCount} process${shardCount > 1 ? 'es' : ''} over ${transport}${inProcessLinks ? ` (in memory within a process${trunked ? ', through one trunk socket between each pair of processes' : shardCount > 1 ? ', over TCP between processes' : ''}; ${linkNoise ? 'every link with Noise' : 'unencrypted'})` : ''} (seed ${schedule.seed}, dilation ×${schedule.dilation}, epochs of ${schedule.epochMs} ms, heartbeats every ${schedule.heartbeatMs} ms, gossipsub heartbeat ${gossipHeartbeatMs} ms${opts.gossipMesh != null ? `, gossipsub mesh ${meshText(opts.gossipMesh)}` : ''}, Yamux keep-alive ${SIM_KEEP_ALIVE_MS / 1000} s)`)
  const up = new Array<number>(shardCount).fill(0)
  const countUp = (shard: number, n: number): void => {
    const before = up.reduce((a, b) => a + b, 0)
    up[shard] = n
    const total = up.reduce((a, b) => a + b, 0)
    if (Math.floor(total / 100) > Math.floor(before / 100)) progress(`  ${total} nodes up`)
  }
  // A node takes 11–16 MiB (sim/README.md); past ≈ 170 nodes a worker would reach V8's default
  // 4 GiB heap limit and spend its time in full GCs, so its limit grows with its share.
  const heapMiB = Math.max(4096, Math.ceil(initial.length / processes) * WORKER_HEAP_MIB_PER_NODE)
  const shards = [...Array(shardCount - 1).keys()].map(i => ShardClient.spawn(i + 1, gossip, n => { countUp(i + 1, n) }, heapMiB))
  const stopShards = async (): Promise<void> => { await Promise.all(shards.map(async s => { await s.stop() })) }
  // Each process that takes nodes starts them at its share of the rate: together they keep the rate asked for.
  const startRate = (opts.startRate ?? 0) / processes
  let remoteStart: Promise<Array<Array<{ id: string, peerId: string }>>> | undefined
  let cluster: Cluster
  const links = inProcessLinks ? new InProcessLinks({ noise: linkNoise }) : undefined
  let trunkPort: TrunkPort | undefined
  try {
    // One socket between each pair of processes carries their nodes' links (sim/trunks.ts), joined
    // before any node starts: each process connects to those joined before it.
    if (links != null && trunked) {
      trunkPort = await openTrunkPort(links)
      const ports = [trunkPort.port]
      for (const shard of shards) ports.push(await shard.trunks(ports, linkNoise))
    }
    cluster = await Cluster.start({
      nodes: specs.map(s => s.spec),
      transport,
      ...(links != null ? { inProcessLinks: links } : {}),
      heartbeatMs: schedule.heartbeatMs,
      memoryLatencyMs: opts.latencyMs,
      logger: opts.logger ?? pino({ level: 'silent' }),
      startConcurrency: 16,
      startRate,
      onProgress: n => { resources.onStarted(n); countUp(0, n) },
      // The shards start their nodes as soon as the ledger host is up, alongside this process's.
      onBootstrap: bootstrap => {
        remoteStart = Promise.all(shards.map(async (shard, i) => await shard.start({
          plans: initial.filter(p => shardOf.get(p.id) === i + 1), popw, nodes: opts.nodes, epochMs: schedule.epochMs, heartbeatMs: schedule.heartbeatMs, settings, bootstrap, startRate, startConcurrency: 16, inProcessLinks, linkNoise
        })))
        remoteStart.catch(() => {}) // awaited (and its failure thrown) once this cluster is up
      }
    })
  } catch (err) {
    await stopShards()
    trunkPort?.close()
    throw err
  }
  const users: UserNode[] = []
  let timers: NodeJS.Timeout[] = []
  try {
    // Cluster.start puts gateways first, otherwise keeps the spec order: match nodes to plans by spec.
    for (const member of cluster.nodes) {
      const i = specs.findIndex(s => s.spec === member.spec)
      const plan = localPlans[i] as NodePlan
      running.set(plan.id, { plan, peerId: member.node.peerId, member, runtime: specs[i]?.runtime, startedAt: Date.now() })
    }
    const remote = await remoteStart ?? []
    remote.forEach((nodes, i) => {
      for (const n of nodes) running.set(n.id, { plan: initial.find(p => p.id === n.id) as NodePlan, peerId: n.peerId, shard: shards[i], startedAt: Date.now() })
    })
    for (const r of running.values()) if (r.member != null) watchNode(r.member.node, gossip)
    for (const r of running.values()) partition?.bind(r.plan.id, r.peerId)
    const startS = (performance.now() - tAll) / 1000
    const host = cluster.nodes[0]?.node as KaisarNode
    const chain = host.ledger as LocalChain
    const popwSvc = host.popw
    if (popwSvc == null) throw new Error('the ledger host follows no epochs')

    const tReg = performance.now()
    const providers = initial.filter(p => p.role === 'provider').length
    const checkers = initial.filter(p => p.role === 'checker').length
    // Registration retries at the node's (dilated) intervals, so the bound stretches with them.
    const registerTimeout = Math.min(300_000, 60_000 + opts.nodes * 400) * schedule.dilation
    progress(`waiting for ${providers} providers and ${checkers} checkers to register`)
    while ((await chain.providers()).length < providers || (await chain.checkers()).length < checkers) {
      if (performance.now() - tReg > registerTimeout) throw new Error(`registrations incomplete after ${registerTimeout / 1000} s: ${(await chain.providers()).length}/${providers} providers, ${(await chain.checkers()).length}/${checkers} checkers`)
      await sleep(500)
    }
    // Registered on the ledger is not yet findable: wait for the providers' capability records
    // in the DHT too, so the measured window does not overlap the start-up storm of provides.
    // Its own bound, from the end of registration: provides are DHT queries, and at a few hundred
    // nodes in one process they take minutes after the last registration (the bound only stops a
    // run that hangs; a run that reaches it is measured anyway and its report shows the cost).
    const unadvertised = async (): Promise<string[]> => {
      const here = [...running.values()].filter(r => r.member != null && r.plan.role === 'provider' && (r.member.node.provider?.advertiser.outstanding ?? 0) > 0).map(r => r.plan.id)
      const there = await Promise.all(shards.map(async s => await s.unadvertised()))
      return [...here, ...there.flat()]
    }
    const tAdvertise = performance.now()
    const advertiseTimeout = Math.min(900_000, 60_000 + opts.nodes * 1_000)
    // ... and a run whose last few providers stopped getting in is measured without them: at
    // 1,000 nodes 8 providers were still out after the whole 900 s, none having got in for
    // minutes (sim/README.md, stop 27). The progress line below names them.
    const stalledAfterMs = 120_000 * Math.min(schedule.dilation, 2)
    let notYet = await unadvertised()
    let lastProgress = performance.now()
    while (notYet.length > 0 && performance.now() - tAdvertise < advertiseTimeout && performance.now() - lastProgress < stalledAfterMs) {
      await sleep(500)
      const now = await unadvertised()
      if (now.length < notYet.length) lastProgress = performance.now()
      notYet = now
    }
    progress(`${providers - notYet.length}/${providers} providers advertised in the DHT (${((performance.now() - tAdvertise) / 1000).toFixed(1)} s after registration)${notYet.length > 0 ? `; not yet: ${notYet.slice(0, 10).join(', ')}${notYet.length > 10 ? ', …' : ''}` : ''}`)
    const registerS = (performance.now() - tReg) / 1000

    const gateways = cluster.byRole('gateway')
    const gatewayAddrs = gateways.map(g => withPeer(g.node))
    for (let i = 0; i < schedule.users; i++) {
      const user = await startSimUser(gatewayAddrs, gatewayAddrs[0] as string, partition?.gater(`user-${i}`), transport, links)
      partition?.bind(`user-${i}`, user.libp2p.peerId.toString())
      users.push(user)
    }
    // Every libp2p node of the run that is up (the partition cuts and counts their connections).
    const liveNodes = (): PartitionedNode[] => [...[...running.values()].filter(r => r.stoppedAt == null).map(r => localNode(r).libp2p), ...users.map(u => u.libp2p)]

    // One whole epoch of warm-up (first probes, meshes forming), then the measured window.
    const firstEpoch = popwSvc.schedule.epochAt(Date.now()) + 2
    const t0 = popwSvc.schedule.times(firstEpoch).start
    const epochs = Math.max(1, Math.floor(schedule.durationMs / schedule.epochMs))
    const lastEpoch = firstEpoch + epochs - 1
    progress(`registered in ${registerS.toFixed(1)} s; measuring epochs ${firstEpoch}..${lastEpoch} from ${new Date(t0).toISOString()}`)
    await sleep(t0 - Date.now())
    resources.begin()
    await Promise.all(shards.map(async s => { await s.measureBegin(t0 + schedule.durationMs - Date.now()) }))
    const tMeasure = performance.now()

    const dht: TimedResult[] = []
    const orders: TimedResult[] = []
    const pending: Array<Promise<void>> = []
    timers = schedule.events.map(ev => setTimeout(() => {
      pending.push(play(ev).catch(err => { progress(`event ${ev.kind} failed: ${(err as Error).message}`) }))
    }, Math.max(0, t0 + ev.at - Date.now())))

    const timeoutMs = 30_000 * schedule.dilation
    const played: Record<SimEvent['kind'], number> = { order: 0, 'dht-lookup': 0, leave: 0, join: 0, partition: 0, heal: 0 }
    const providersAtStart = [...running.values()].filter(r => r.plan.role === 'provider' && r.stoppedAt == null).length
    const play = async (ev: SimEvent): Promise<void> => {
      played[ev.kind]++
      switch (ev.kind) {
        case 'order': {
          const user = users[ev.user % users.length] as UserNode
          const t = performance.now()
          const userName = `user-${ev.user % users.length}`
          // An order started while split is judged against what the user's side can serve; one
          // for a region served only from the other side must fail, and is the partition
          // section's to report rather than a failed order in the headline.
          const userSide = partition?.sideOf(userName)
          const servable = partition?.isSplit !== true || [...running.values()].some(r => r.plan.role === 'provider' && r.stoppedAt == null && r.plan.behaviour === 'honest' && r.plan.region === ev.region && partition.sideOf(r.plan.id) === userSide)
          const duringSplit = partition?.isSplit === true
          let result: TimedResult
          let servedBy: string | undefined
          try {
            const placed = await withTimeout(placeOrder(user, SIM_ORDER, { filter: { region: ev.region }, maxCandidates: 4 }), timeoutMs * 2, 'order')
            servedBy = placed.chosen.quote.provider
            result = { at: Date.now() - t0, ok: true, ms: performance.now() - t }
          } catch (err) {
            result = { at: Date.now() - t0, ok: false, ms: performance.now() - t, error: `${ev.order} (${ev.region}): ${(err as Error).message}` }
          }
          if (servable) orders.push(result)
          if (partition != null && userSide != null && duringSplit) {
            split.orders.push({ order: ev.order, region: ev.region, ok: result.ok, userSide, servable, endedWhileSplit: partition.isSplit, ...(servedBy != null ? { servedBy: partition.sideOfPeer(servedBy) } : {}), ...(result.error != null ? { error: result.error } : {}) })
          }
          return
        }
        case 'dht-lookup': {
          const from = running.get(ev.from)
          const target = running.get(ev.target) ?? [...running.values()].find(r => r.plan.id === ev.target)
          if (from == null || from.stoppedAt != null || target == null) { played[ev.kind]--; return } // the asker left: not a lookup
          // A lookup started while split is the partition's to report, not the DHT's headline: even
          // on one side a record may live only on the other side's closest servers.
          const duringSplit = partition?.isSplit === true
          const across = partition?.separates(from.peerId, target.peerId) === true
          const found = from.shard != null ? await from.shard.lookup(from.plan.id, target.peerId, timeoutMs) : await timedLookup(localNode(from), target.peerId, timeoutMs)
          const result: TimedResult = { at: Date.now() - t0, ...found }
          if (!duringSplit) dht.push(result)
          else (across ? split.dhtAcross : split.dhtSameSide).push(result)
          return
        }
        case 'leave': {
          const r = running.get(ev.node)
          if (r == null || r.stoppedAt != null) { played[ev.kind]--; return }
          r.stoppedAt = Date.now()
          if (r.shard != null) { await r.shard.leave(r.plan.id); return } // the shard reports its subscriber gone
          gossip.subscriberStopped(r.peerId)
          await localNode(r).stop()
          return
        }
        case 'join': {
          const plan = schedule.nodes.find(p => p.id === ev.node) as NodePlan
          const shard = shards[place(plan.id) - 1]
          if (shard != null) {
            running.set(plan.id, { plan, peerId: await shard.join(plan), shard, startedAt: Date.now() })
            return
          }
          const { spec, runtime } = specOf(plan)
          const member = await cluster.add(spec)
          running.set(plan.id, { plan, peerId: member.node.peerId, member, runtime, startedAt: Date.now() })
          partition?.bind(plan.id, member.node.peerId)
          watchNode(member.node, gossip)
          return
        }
        case 'partition': {
          if (partition == null) return
          split.splitAt = Date.now()
          split.connectionsCut = partition.split(liveNodes())
          const sample = (): void => { split.crossConnectionsSeen = Math.max(split.crossConnectionsSeen, partition.crossConnections(liveNodes())) }
          sample()
          crossSampler = setInterval(sample, 250)
          progress(`network split: ${split.connectionsCut} connection ends cut; group of ${ev.group.length} nodes cut off from the ledger host's side`)
          return
        }
        case 'heal': {
          if (partition == null || !partition.isSplit) { played[ev.kind]--; return }
          clearInterval(crossSampler)
          split.crossConnectionsSeen = Math.max(split.crossConnectionsSeen, partition.crossConnections(liveNodes()))
          partition.heal()
          split.healAt = Date.now()
          progress('network healed')
        }
      }
    }

    const tEnd = t0 + schedule.durationMs
    await sleep(tEnd - Date.now())
    const measuredS = (performance.now() - tMeasure) / 1000
    const here = resources.end([...running.values()].flatMap(r => r.member != null ? [r.member.node] : []))
    const asked = performance.now()
    const there = await Promise.all(shards.map(async s => await s.measureEnd()))
    const answerS = (performance.now() - asked) / 1000
    for (const t of timers) clearTimeout(t)
    clearInterval(crossSampler)
    if (shards.length > 0) progress(`shards answered in ${answerS.toFixed(1)} s; read their windows ${there.map(w => `${(w.endLateMs / 1000).toFixed(1)} s`).join(', ')} after the end`)
    progress(`measured window over; waiting for epoch ${lastEpoch}'s settlement and ${pending.length} events in flight`)
    await withTimeout(Promise.allSettled(pending), Math.min(120_000, timeoutMs * 3), 'events').catch(() => {})
    const settleBy = popwSvc.schedule.times(lastEpoch).outcomesAt + 2 * schedule.epochMs + 30_000
    while ((popwSvc.settledEpoch < lastEpoch || await popwSvc.store.get(lastEpoch) == null) && Date.now() < settleBy) await sleep(250)

    // Every shard's gossip events up to now must be in the probe before it is read.
    const flushing = Promise.all(shards.map(async s => { await s.flushGossip() }))
    await withTimeout(flushing, 600_000, 'the shards\' gossip events').catch(err => { progress(`${(err as Error).message}: the gossip figures miss what had not arrived`) })
    const dropped = shards.reduce((n, s) => n + s.gossipDropped, 0)
    if (dropped > 0) progress(`${dropped} gossip events from the shards could not be read`)

    const outcomes = await judge(schedule, running, host, chain, firstEpoch, lastEpoch)
    const graceMs = Math.min(10_000, schedule.heartbeatMs * 2)
    const sideOfPeer = (peer: string): 'a' | 'b' | undefined => partition?.sideOfPeer(peer)
    const partitioned = partition == null
      ? undefined
      : partitionReport({
        log: split,
        t0,
        sideOfPeer,
        sideOfName: name => partition.sideOf(name),
        members: [...initial.map(p => ({ name: p.id, role: p.role })), ...users.map((_u, i) => ({ name: `user-${i}`, role: 'user' }))],
        pairs: gossip.pairs(t0, tEnd, graceMs),
        graceMs,
        // Reconnecting takes the nodes' own redials (bootstrap backoff, the ledger client, kad-dht) and a few gossipsub heartbeats.
        allowanceMs: Math.max(10_000, 2 * schedule.heartbeatMs),
        epochs: [...Array(lastEpoch - firstEpoch + 1).keys()].map(i => popwSvc.schedule.times(firstEpoch + i)),
        providers: outcomes.providers.map(p => ({ id: p.id, honest: p.behaviour === 'honest', passedIn: p.passedIn, failedIn: p.failedIn, reasons: p.reasons }))
      })
    // Pairs the split kept apart are not the gossip layer's losses: the partition section reports them.
    const g = gossip.summary(t0, tEnd, graceMs, p => !unreachablePair(p, partitioned, t0, sideOfPeer, graceMs))
    const dhtOk = dht.filter(d => d.ok)
    const ordersOk = orders.filter(o => o.ok)
    const nodes = running.size
    const res = combineResources([here, ...there])
    const processes: ProcessResources[] = [here, ...there].map((r, shard) => ({
      shard,
      nodes: [...running.values()].filter(x => (x.shard?.index ?? 0) === shard).length,
      cpuCores: round(r.cpuCores, 2),
      rssMaxMiB: round(r.rssMaxMiB, 0),
      loopP99Ms: round(r.loopP99Ms, 1),
      loopMaxMs: round(r.loopMaxMs, 1),
      gcMaxMs: r.gcMaxMs,
      fdMax: r.fdMax,
      fdLimit: r.fdLimit,
      stalls: r.stalls.map(st => ({ at: new Date(st.at).toISOString(), intoEpochMs: st.at % schedule.epochMs, ms: st.ms }))
    }))
    const report: SimReport = {
      scenario: schedule.scenario,
      seed: schedule.seed,
      nodes: opts.nodes,
      users: schedule.users,
      dilation: schedule.dilation,
      epochMs: schedule.epochMs,
      heartbeatMs: schedule.heartbeatMs,
      ...(opts.gossipMesh != null ? { gossipMesh: opts.gossipMesh } : {}),
      durationMs: schedule.durationMs,
      shards: shardCount,
      transport,
      inProcessLinks,
      linkEncryption: linkNoise ? 'noise' : 'none',
      trunks: trunked,
      scheduleHash: scheduleHash(schedule),
      events: schedule.events.length,
      played,
      providersAtStart,
      wallS: { start: round(startS, 1), register: round(registerS, 1), measured: round(measuredS, 1), total: round((performance.now() - tAll) / 1000, 1) },
      gossip: { published: g.published, expected: g.expected, delivered: g.delivered, ratio: ratio(g.delivered, g.expected), p50Ms: percentile(g.latenciesMs, 50), p99Ms: percentile(g.latenciesMs, 99), maxMs: maxOf(g.latenciesMs), latenciesMs: g.latenciesMs, missed: named(g.missed, running) },
      dht: { lookups: dht.length, ok: dhtOk.length, ratio: ratio(dhtOk.length, dht.length), p50Ms: round(percentile(dhtOk.map(d => d.ms), 50), 1), p99Ms: round(percentile(dhtOk.map(d => d.ms), 99), 1), results: dht },
      orders: { total: orders.length, ok: ordersOk.length, ratio: ratio(ordersOk.length, orders.length), deployP50Ms: round(percentile(ordersOk.map(o => o.ms), 50), 0), deployP99Ms: round(percentile(ordersOk.map(o => o.ms), 99), 0), failures: orders.flatMap(o => o.error != null ? [o.error] : []), results: orders },
      outcomes,
      outcomeSet: outcomes.providers.map(p => `${p.id}:${p.judged}`).sort(),
      ...(partitioned != null ? { partition: partitioned } : {}),
      resources: {
        baselineRssMiB: round(res.baselineRssMiB, 0),
        rssMaxMiB: round(res.rssMaxMiB, 0),
        rssPerNodeMiB: round((res.rssMaxMiB - res.baselineRssMiB) / nodes, 2),
        cpuCores: round(res.cpuCores, 2),
        cpuPerNodePct: round(res.cpuCores * 100 / nodes, 3),
        connectionsPerNode: round(res.connections / Math.max(1, res.nodes), 1),
        trimmedPerNode: round(res.trimmed / Math.max(1, res.nodes), 1),
        loopP50Ms: round(res.loopP50Ms, 1),
        loopP99Ms: round(res.loopP99Ms, 1),
        loopMaxMs: round(res.loopMaxMs, 1),
        startup: resources.startup.map(s => ({ nodes: s.nodes, rssMiB: round(s.rssMiB, 0) })),
        processes
      },
      degraded: []
    }
    report.degraded = degradations(report)
    return report
  } finally {
    for (const t of timers) clearTimeout(t)
    clearInterval(crossSampler)
    for (const u of users) await u.close().catch(() => {})
    // The shards first: their nodes would otherwise spend their stop redialling a ledger host that
    // is gone. A failure here is reported, not thrown: it would replace the finished report (a
    // 1,000-node run lost its report so, stop 23).
    await stopShards().catch(err => { progress(`stopping the shards: ${(err as Error).message}`) })
    await cluster.stop().catch(err => { progress(`stopping this process's nodes: ${(err as Error).message}`) })
    trunkPort?.close()
    for (const r of running.values()) await r.runtime?.removeAll().catch(() => {})
  }
}

/**
 * Outcome correctness from the settled outcomes at the ledger host. A cheater is caught when it
 * has a failing outcome in the measured epochs (an offline one: in an epoch that ends after it
 * left). An honest provider failed when it has a failing outcome while it was up, counting a
 * joiner only from its second epoch (its first may start before its record exists).
 */
async function judge (s: SimSchedule, running: Map<string, Running>, host: KaisarNode, chain: LocalChain, first: number, last: number): Promise<SimReport['outcomes']> {
  const byPeer = new Map([...running.values()].map(r => [r.peerId, r]))
  const tally = new Map<string, { pass: number[], fail: number[], reasons: Set<string> }>()
  const epochs: EpochRow[] = []
  const popw = host.popw
  for (let e = first; e <= last; e++) {
    const settled = await popw?.store.get(e)
    const settlement = await chain.settlement(e)
    const row: EpochRow = { epoch: e, outcomes: 0, pass: 0, fail: 0, settled: settlement != null, penalties: settlement?.penalties.length ?? 0 }
    for (const o of settled?.outcomes ?? []) {
      const r = byPeer.get(keyToString(o.provider))
      if (r == null) continue
      const t = tally.get(r.plan.id) ?? { pass: [], fail: [], reasons: new Set<string>() }
      const pass = o.result === VerdictResult.PASS
      ;(pass ? t.pass : t.fail).push(e)
      tally.set(r.plan.id, t)
      row.outcomes++
      if (pass) row.pass++
      else { row.fail++; for (const v of o.verdicts) for (const why of v.reasons) t.reasons.add(`${e - first}:${why}`) }
    }
    epochs.push(row)
  }
  const epochStart = (e: number): number => e * s.epochMs
  const providers: ProviderVerdict[] = []
  for (const r of running.values()) {
    if (r.plan.role !== 'provider') continue
    const t = tally.get(r.plan.id) ?? { pass: [], fail: [], reasons: new Set<string>() }
    const base = { id: r.plan.id, behaviour: r.plan.behaviour, shard: r.shard?.index ?? 0, passes: t.pass.length, fails: t.fail.length, reasons: [...t.reasons].sort(), passedIn: t.pass.map(e => e - first), failedIn: t.fail.map(e => e - first) }
    if (CHEATING.includes(r.plan.behaviour)) {
      const counted = r.plan.behaviour === 'offline' ? t.fail.filter(e => r.stoppedAt != null && epochStart(e + 1) > r.stoppedAt) : t.fail
      providers.push({ ...base, judged: counted.length > 0 ? 'caught' : 'missed' })
      continue
    }
    const up = (e: number): boolean => epochStart(e) >= (r.plan.initial ? 0 : r.startedAt + s.epochMs) && (r.stoppedAt == null || epochStart(e + 1) <= r.stoppedAt)
    const judgedEpochs = [...t.pass, ...t.fail].filter(up)
    if (judgedEpochs.length === 0) { providers.push({ ...base, judged: 'unjudged' }); continue }
    providers.push({ ...base, judged: t.fail.some(up) ? 'failed' : 'clean' })
  }
  const cheaters = providers.filter(p => CHEATING.includes(p.behaviour as NodePlan['behaviour']))
  const honest = providers.filter(p => p.judged === 'clean' || p.judged === 'failed')
  return {
    cheatersTotal: cheaters.length,
    cheatersCaught: cheaters.filter(p => p.judged === 'caught').length,
    honestJudged: honest.length,
    honestFailed: honest.filter(p => p.judged === 'failed').length,
    providers: providers.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true })),
    epochs
  }
}

/** What fell short of the network's targets in this run, in words for the report. */
export function degradations (r: SimReport): string[] {
  const out: string[] = []
  if (r.gossip.ratio < 0.999) out.push(`gossip delivery ${(r.gossip.ratio * 100).toFixed(2)} % < 99.9 %`)
  if (r.gossip.p99Ms > 1000) out.push(`gossip p99 ${Math.round(r.gossip.p99Ms)} ms > 1 s`)
  if (r.dht.ratio < 0.99) out.push(`DHT lookups ${(r.dht.ratio * 100).toFixed(1)} % < 99 %`)
  if (r.orders.ratio < 0.99) out.push(`orders ${r.orders.ok}/${r.orders.total} succeeded`)
  if (r.outcomes.cheatersCaught < r.outcomes.cheatersTotal) out.push(`${r.outcomes.cheatersTotal - r.outcomes.cheatersCaught} cheaters not caught`)
  if (r.outcomes.honestFailed > 0) out.push(`${r.outcomes.honestFailed} honest providers failed`)
  const unjudged = r.outcomes.providers.filter(p => p.judged === 'unjudged').length
  if (unjudged > 0) out.push(`${unjudged} providers without an outcome`)
  const unsettled = r.outcomes.epochs.filter(e => !e.settled).length
  if (unsettled > 0) out.push(`${unsettled} of ${r.outcomes.epochs.length} epochs not settled`)
  if (r.resources.loopP99Ms > 200) out.push(`event-loop lag p99 ${r.resources.loopP99Ms} ms`)
  const longest = r.resources.processes.flatMap(p => p.stalls.map(st => ({ ...st, shard: p.shard, gcMaxMs: p.gcMaxMs }))).sort((a, b) => b.ms - a.ms)[0]
  if (longest != null && longest.ms >= 5000) out.push(`shard ${longest.shard} stalled ${(longest.ms / 1000).toFixed(1)} s, ${(longest.intoEpochMs / 1000).toFixed(0)} s into an epoch (its longest GC pause ${longest.gcMaxMs} ms)`)
  // Past this share of its limit a process is one burst of connections from refusing every new one.
  for (const p of r.resources.processes) if (p.fdLimit > 0 && p.fdMax >= 0.8 * p.fdLimit) out.push(`shard ${p.shard} held ${p.fdMax} file descriptors of its ${p.fdLimit}`)
  if (r.dilation > 1) out.push(`time dilated ×${r.dilation}: every protocol interval ${r.dilation}× longer than configured`)
  const stockMesh = meshText(gossipMeshSchema.parse({}))
  if (r.gossipMesh != null && meshText(r.gossipMesh) !== stockMesh) out.push(`gossipsub mesh ${meshText(r.gossipMesh)}, not the node's default ${stockMesh}`)
  const p = r.partition
  if (p != null) {
    const pct = (x: number): string => `${(x * 100).toFixed(1)} %`
    if (p.crossConnectionsWhileSplit > 0) out.push(`split: ${p.crossConnectionsWhileSplit} connections open across the sides`)
    if (p.gossip.acrossSplit.delivered > 0) out.push(`split: ${p.gossip.acrossSplit.delivered} heartbeats crossed it`)
    for (const side of ['a', 'b'] as const) if (!(p.gossip.sameSide[side].ratio >= 0.99)) out.push(`split: gossip within side ${side.toUpperCase()} ${pct(p.gossip.sameSide[side].ratio)} < 99 %`)
    if (p.gossip.healAllMs == null) out.push(`heal: ${p.gossip.unreached} gateways/checkers never heard the other side again`)
    else if (p.gossip.healAllMs > p.gossip.allowanceMs) out.push(`heal: gossip reached every node across after ${p.gossip.healAllMs} ms > ${p.gossip.allowanceMs} ms`)
    if (p.outcomes.honestFailedBySplit > 0) out.push(`split: ${p.outcomes.honestFailedBySplit} honest providers failed because of it (${p.outcomes.failedBySplit.map(f => `${f.id} side ${f.side.toUpperCase()}`).join(', ')})`)
    if (p.orders.servableOk < p.orders.servable) out.push(`split: ${p.orders.servableOk}/${p.orders.servable} orders its side could serve succeeded`)
    if (p.orders.servedOnOtherSide > 0) out.push(`split: ${p.orders.servedOnOtherSide} orders deployed across it`)
  }
  return out
}

/** The `--json` line: the headline figures, one flat object. */
export function summary (r: SimReport): Record<string, unknown> {
  return {
    scenario: r.scenario,
    nodes: r.nodes,
    seed: r.seed,
    dilation: r.dilation,
    epoch_ms: r.epochMs,
    heartbeat_ms: r.heartbeatMs,
    ...(r.gossipMesh != null ? { gossip_mesh: r.gossipMesh } : {}),
    shards: r.shards,
    transport: r.transport,
    in_process_links: r.inProcessLinks,
    ...(r.inProcessLinks ? { link_encryption: r.linkEncryption } : {}),
    ...(r.trunks ? { trunks: true } : {}),
    schedule_hash: r.scheduleHash,
    gossip_delivery: round(r.gossip.ratio, 5),
    gossip_p50_ms: round(r.gossip.p50Ms, 1),
    gossip_p99_ms: round(r.gossip.p99Ms, 1),
    gossip_expected: r.gossip.expected,
    gossip_missed_by: { publishers: r.gossip.missed.publishers, subscribers: r.gossip.missed.subscribers },
    dht_success: round(r.dht.ratio, 4),
    dht_lookups: r.dht.lookups,
    dht_p50_ms: r.dht.p50Ms,
    dht_p99_ms: r.dht.p99Ms,
    orders_total: r.orders.total,
    orders_ok: r.orders.ok,
    deploy_p50_ms: r.orders.deployP50Ms,
    cheaters_total: r.outcomes.cheatersTotal,
    cheaters_caught: r.outcomes.cheatersCaught,
    honest_judged: r.outcomes.honestJudged,
    honest_failed: r.outcomes.honestFailed,
    epochs: r.outcomes.epochs.length,
    epochs_settled: r.outcomes.epochs.filter(e => e.settled).length,
    rss_per_node_mib: r.resources.rssPerNodeMiB,
    rss_max_mib: r.resources.rssMaxMiB,
    cpu_cores: r.resources.cpuCores,
    cpu_per_node_pct: r.resources.cpuPerNodePct,
    connections_per_node: r.resources.connectionsPerNode,
    trimmed_per_node: r.resources.trimmedPerNode,
    loop_lag_p99_ms: r.resources.loopP99Ms,
    ...(r.shards > 1 ? { processes: r.resources.processes } : {}),
    ...(r.partition != null
      ? {
          partition_split_ms: r.partition.splitAtMs,
          partition_heal_ms: r.partition.healAtMs,
          partition_sides: r.partition.sides,
          partition_cross_connections: r.partition.crossConnectionsWhileSplit,
          partition_gossip_side_a: round(r.partition.gossip.sameSide.a.ratio, 5),
          partition_gossip_side_b: round(r.partition.gossip.sameSide.b.ratio, 5),
          partition_gossip_across: r.partition.gossip.acrossSplit.delivered,
          partition_heal_all_ms: r.partition.gossip.healAllMs,
          partition_orders: `${r.partition.orders.servableOk}/${r.partition.orders.servable} servable ok, ${r.partition.orders.unservable - r.partition.orders.unservableOk}/${r.partition.orders.unservable} unservable refused`,
          partition_honest_failed: r.partition.outcomes.honestFailedBySplit
        }
      : {}),
    wall_s: r.wallS,
    degraded: r.degraded
  }
}

function withPeer (node: KaisarNode): string {
  const addr = node.addresses().find(a => a.startsWith('/memory/')) ?? node.addresses()[0] ?? ''
  return addr.includes('/p2p/') ? addr : `${addr}/p2p/${node.peerId}`
}

async function sleep (ms: number): Promise<void> {
  if (ms > 0) await new Promise(resolve => setTimeout(resolve, ms))
}

async function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what} timed out after ${ms} ms`)) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

/** The misses with node names (provider-3) instead of peer ids, where the run knows them. */
function named (m: GossipMisses, running: ReadonlyMap<string, Running>): GossipMisses {
  const names = new Map([...running].map(([name, r]) => [r.peerId, name]))
  const rename = (l: GossipMisses['worstPublishers']): GossipMisses['worstPublishers'] => l.map(x => ({ ...x, peer: names.get(x.peer) ?? x.peer }))
  return { ...m, worstPublishers: rename(m.worstPublishers), worstSubscribers: rename(m.worstSubscribers) }
}

function ratio (a: number, b: number): number { return b === 0 ? NaN : a / b }
function round (x: number, digits: number): number { return Number.isFinite(x) ? Number(x.toFixed(digits)) : x }
