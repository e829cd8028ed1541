// Many real KaisarNodes in one process: the same code as `kaisar-node start`, over the
// memory transport (or loopback TCP, when shards in other processes join the same network)
// with in-memory stores and no HTTP API. The first gateway hosts the local
// ledger; everyone else bootstraps from the gateways. Used by the simulator and benchmarks.
import { MemoryLevel } from 'memory-level'
import { pino } from 'pino'
import { configSchema, roleDefaults, type NodeConfig, type Role } from '../node/config/schema.js'
import { ephemeralIdentity, type NodeIdentity } from '../node/identity/keystore.js'
import { freePort } from '../node/runtime/free-port.js'
import { KaisarNode, type NodeEnvironment } from '../node/node.js'
import type { InProcessLinks } from '../node/network/in-process-links.js'
import type { ContainerRuntime } from '../node/containers/runtime.js'
import type { HardwareInventory } from '../node/hardware/schema.js'
import type { Logger } from '../node/log.js'
import type { StateDb } from '../node/store/state-db.js'

/** Every simulated node's Yamux keep-alive (see `clusterConfig`): under TCP's 2-minute idle close. */
export const SIM_KEEP_ALIVE_MS = 90_000

export interface ClusterNodeSpec {
  role: Role
  /** The node's name in logs and memory addresses, unique in the cluster (default: role-N in start order). */
  name?: string
  region?: string
  /** Provider hardware (simulated). */
  inventory?: HardwareInventory
  /** Overrides of the node's config (validated with the real schema). */
  config?: Record<string, unknown>
  /** Provider: a container runtime for its leases (e.g. sim/runtime.ts's MemoryRuntime). */
  runtime?: ContainerRuntime
  /** Test-only misbehaviour (sim/cheats.ts): a cheating provider's challenge responder, a lying checker. */
  popwHooks?: NodeEnvironment['popwHooks']
  /** Sim-only link control: whom this node may connect to (sim/partition.ts). */
  connectionGater?: NodeEnvironment['connectionGater']
}

export interface ClusterSpec {
  nodes: ClusterNodeSpec[]
  /** A name prefix for memory addresses, unique per cluster in one process. */
  name?: string
  /**
   * 'memory' (default): in-process links only. 'tcp': every node listens on 127.0.0.1, so nodes
   * in other processes (the simulator's shards, sim/shard.ts) can reach them.
   */
  transport?: 'memory' | 'tcp'
  /**
   * TCP only: this process's registry of listening nodes, so links between two nodes of the
   * process stay in memory (node/network/in-process-links.ts). Absent: every link is kernel TCP.
   */
  inProcessLinks?: InProcessLinks
  /**
   * Join a network that runs elsewhere (another shard's gateways, the ledger host first) instead
   * of starting one: no node here hosts the ledger and no gateway is required.
   */
  bootstrap?: string[]
  heartbeatMs?: number
  memoryLatencyMs?: number
  logger?: Logger
  /** Start nodes this many at a time (start-up is CPU bound). */
  startConcurrency?: number
  /**
   * At most this many nodes started per second (0 or absent: as fast as they start). A real
   * network does not start hundreds of nodes in the same second; one process that does spends
   * the next minutes in a storm of registrations, DHT provides and record puts.
   */
  startRate?: number
  /** Called after each batch of nodes has started (the simulator samples memory against node count). */
  onProgress?: (started: number) => void
  /**
   * Called once the ledger host is up, with the addresses others bootstrap from (the ledger
   * host's first): shards in other processes start their nodes alongside this cluster's.
   */
  onBootstrap?: (bootstrap: string[]) => void
}

export interface ClusterNode {
  name: string
  spec: ClusterNodeSpec
  node: KaisarNode
  identity: NodeIdentity
}

let clusters = 0

export class Cluster {
  readonly nodes: ClusterNode[] = []
  /** The gateways' addresses, for nodes added later. */
  private bootstrap: string[] = []
  private spec?: ClusterSpec
  private added = 0
  private constructor (readonly name: string) {}

  static async start (spec: ClusterSpec): Promise<Cluster> {
    const cluster = new Cluster(spec.name ?? `c${++clusters}-${process.pid}`)
    const logger = spec.logger ?? pino({ level: 'silent' })
    const gateways = spec.nodes.filter(n => n.role === 'gateway')
    const joining = spec.bootstrap != null
    if (!joining && gateways.length === 0) throw new Error('a cluster needs at least one gateway (the ledger host)')
    const ordered = joining ? spec.nodes : [...gateways, ...spec.nodes.filter(n => n.role !== 'gateway')]
    const identities = await Promise.all(ordered.map(async () => await ephemeralIdentity()))
    const counters: Record<string, number> = {}
    const names = ordered.map(n => n.name ?? `${n.role}-${(counters[n.role] = (counters[n.role] ?? -1) + 1)}`)
    const transport = spec.transport ?? 'memory'
    // Over TCP the gateways' ports must be known before they start: everyone bootstraps from them.
    const ports = await Promise.all(ordered.map(async n => transport === 'tcp' && !joining && n.role === 'gateway' ? await freePort() : 0))
    const listenOf = (i: number): string => transport === 'memory' ? `/memory/${cluster.name}-${names[i] as string}` : `/ip4/127.0.0.1/tcp/${ports[i] as number}`
    const addrOf = (i: number): string => `${listenOf(i)}/p2p/${(identities[i] as NodeIdentity).peerId.toString()}`
    const bootstrap = spec.bootstrap ?? gateways.map((_g, i) => addrOf(i))

    const build = async (i: number): Promise<ClusterNode> => {
      const spec_ = ordered[i] as ClusterNodeSpec
      const name = names[i] as string
      const config = clusterConfig(spec_, {
        listen: [listenOf(i)],
        bootstrap: joining ? bootstrap : bootstrap.filter((_b, j) => j !== i),
        ledgerHost: !joining && i === 0,
        heartbeatMs: spec.heartbeatMs
      })
      const stateDb: StateDb = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
      const node = await KaisarNode.build(config, identities[i] as NodeIdentity, {
        stateDb, transport, api: false, logger: logger.child({ node: name }), memoryLatencyMs: spec.memoryLatencyMs, inventory: spec_.inventory,
        runtime: spec_.runtime, popwHooks: spec_.popwHooks, connectionGater: spec_.connectionGater, inProcessLinks: transport === 'tcp' ? spec.inProcessLinks : undefined
      })
      return { name, spec: spec_, node, identity: identities[i] as NodeIdentity }
    }

    // The ledger host first: everyone else asks it for their nonces and registrations.
    const host = joining ? undefined : await build(0)
    await host?.node.start()
    if (host != null) cluster.nodes.push(host)
    const started: Array<ClusterNode | undefined> = []
    // The other gateways next, before `onBootstrap` tells other processes where they listen: their
    // ports were only free for a moment (freePort), and every outbound connection of this machine
    // takes its local port from the same range (a 1,000-node run over five processes lost one).
    const first = joining ? 0 : gateways.length
    let failure: unknown
    for (let i = 1; i < first && failure == null; i++) {
      try {
        const n = await build(i)
        started[i] = n
        await n.node.start()
      } catch (err) { failure = err }
    }
    if (failure == null) spec.onBootstrap?.(bootstrap)
    const concurrency = spec.startConcurrency ?? 8
    const tStart = Date.now()
    // Node by node: each starts at its own due time (with a rate) and at most `concurrency` start
    // at once. Batches of `concurrency` would start in bursts, e.g. 16 nodes every 16 s at 1/s.
    const starting = new Set<Promise<void>>()
    let up = first
    for (let i = first; i < ordered.length && failure == null; i++) {
      if (spec.startRate != null && spec.startRate > 0) {
        const due = tStart + (i - first) / spec.startRate * 1000
        if (due > Date.now()) await new Promise(resolve => setTimeout(resolve, due - Date.now()))
      }
      while (starting.size >= concurrency) await Promise.race(starting)
      const one: Promise<void> = (async () => {
        const n = await build(i)
        await n.node.start()
        started[i] = n
        spec.onProgress?.(++up)
      })().catch(err => { failure ??= err }).finally(() => { starting.delete(one) })
      starting.add(one)
    }
    await Promise.all(starting)
    if (failure != null) {
      // Leave nothing running behind a failed start (the ledger host included).
      await Promise.allSettled([...started, host].flatMap(n => n != null ? [n.node.stop()] : []))
      throw failure
    }
    cluster.nodes.push(...started.filter((n): n is ClusterNode => n != null))
    cluster.bootstrap = bootstrap
    cluster.spec = spec
    return cluster
  }

  /** Starts one more node (a provider joining a running network), bootstrapped from the gateways. */
  async add (spec_: ClusterNodeSpec): Promise<ClusterNode> {
    const identity = await ephemeralIdentity()
    const name = spec_.name ?? `${spec_.role}-x${++this.added}`
    const transport = this.spec?.transport ?? 'memory'
    const listen = transport === 'memory' ? `/memory/${this.name}-${name}` : '/ip4/127.0.0.1/tcp/0'
    const config = clusterConfig(spec_, { listen: [listen], bootstrap: this.bootstrap, ledgerHost: false, heartbeatMs: this.spec?.heartbeatMs })
    const stateDb: StateDb = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
    const logger = this.spec?.logger ?? pino({ level: 'silent' })
    const node = await KaisarNode.build(config, identity, {
      stateDb, transport, api: false, logger: logger.child({ node: name }), memoryLatencyMs: this.spec?.memoryLatencyMs, inventory: spec_.inventory,
      runtime: spec_.runtime, popwHooks: spec_.popwHooks, connectionGater: spec_.connectionGater, inProcessLinks: transport === 'tcp' ? this.spec?.inProcessLinks : undefined
    })
    await node.start()
    const added = { name, spec: spec_, node, identity }
    this.nodes.push(added)
    return added
  }

  byRole (role: Role): ClusterNode[] {
    return this.nodes.filter(n => n.spec.role === role)
  }

  async stop (): Promise<void> {
    // Everyone but the ledger host first, so nobody waits on a ledger that is gone.
    await Promise.all(this.nodes.slice(1).map(async n => { await n.node.stop() }))
    await this.nodes[0]?.node.stop()
  }
}

/** A node config for the cluster, through the real schema (so the simulator cannot drift from it). */
export function clusterConfig (spec: ClusterNodeSpec, c: { listen: string[], bootstrap: string[], ledgerHost: boolean, heartbeatMs?: number }): NodeConfig {
  const defaults = roleDefaults(spec.role) as { network: Record<string, unknown> }
  return configSchema.parse({
    ...defaults,
    role: spec.role,
    dataDir: '/nonexistent/in-memory',
    listen: c.listen,
    bootstrap: c.bootstrap,
    api: '127.0.0.1:0',
    ledgerHost: c.ledgerHost,
    region: spec.region ?? '',
    logLevel: 'silent',
    ...spec.config,
    // No connection monitor: it pings every connection of every node in the same instant, and in
    // one process under load the late answers close healthy connections (a reconnect storm the
    // real network, one node per machine, does not have). Memory connections never half-die,
    // which is all the monitor is there to catch.
    // Yamux keep-alive every 90 s instead of 30 s, for the same reason: a loopback or memory
    // connection ends with its node (a FIN or the process's exit), never silently, and there is
    // no NAT mapping to keep open. At ≈ 60 connections per node the 30 s pings were 35 % of every
    // frame the network sent (100 nodes, sim/README.md stop 17). Not off: TCP closes a socket
    // idle for 2 minutes, and the redials (Noise handshakes, identify) cost more than the pings.
    // No splice listener: it serves `kaisar-node connect` on a real gateway; simulated users do not splice.
    // Over loopback TCP every simulated node dials from 127.0.0.1, and libp2p's inbound limit is
    // per IP: it would count the whole network as one host. Real nodes each have their own address.
    network: {
      ...defaults.network,
      autonat: false,
      dcutr: false,
      websockets: false,
      connectionMonitorMs: 0,
      keepAliveMs: SIM_KEEP_ALIVE_MS,
      spliceListen: '',
      ...(c.listen.some(a => a.startsWith('/ip4/127.0.0.1/')) ? { inboundConnectionThreshold: 1_000_000 } : {}),
      ...(spec.config?.network as object | undefined)
    },
    provider: { benchmark: 'skip', containers: 'none', ...(spec.config?.provider as object | undefined) },
    heartbeat: { intervalMs: c.heartbeatMs ?? 15_000, ...(spec.config?.heartbeat as object | undefined) }
  })
}
