// KaisarNode: one node, any role. Builds the stack from a validated config, starts the
// services the role needs, and stops them in reverse order so nothing is lost on exit.
//
// `create` is the process's way in (data dir, LevelDB, TCP, HTTP API); `build` takes its
// environment injected (in-memory stores, the memory transport, no API), which is how the
// simulator runs hundreds of the same nodes in one process.
import { RequestVerifier } from './api/auth.js'
import { Router } from './api/router.js'
import { nodeRoutes } from './api/routes/node.js'
import { ledgerRoutes } from './api/routes/ledger.js'
import { providerRoutes } from './api/routes/providers.js'
import { webRoutes } from './api/routes/web.js'
import { ApiServer } from './api/server.js'
import { parseHostPort, type NodeConfig, type Role } from './config/schema.js'
import { StartupError, systemErrorCode } from './errors.js'
import { loadOrCreateIdentity, type NodeIdentity } from './identity/keystore.js'
import { openNodeLedger } from './ledger/node-ledger.js'
import { createLogger, type Logger } from './log.js'
import { NodeMetrics } from './metrics/registry.js'
import { BandwidthService } from './network/bandwidth.js'
import { BootstrapDialer, bootstrapPeers } from './network/bootstrap.js'
import { GossipService } from './network/gossip/service.js'
import { createNetwork, type KaisarLibp2p } from './network/libp2p.js'
import { PeerRoles, type AnnouncedRole } from './network/peer-roles.js'
import { SignedRecordStore } from './network/records/store.js'
import { RecordVersionIndex, recordValidators } from './network/records/validators.js'
import { ingressRoutes } from './roles/gateway/ingress.js'
import { RelayPolicy } from './roles/gateway/relay-policy.js'
import { SpliceRelay } from './roles/gateway/splice-relay.js'
import { createProviderRole, type ProviderRole } from './roles/provider/index.js'
import { createCheckerRole, type CheckerHooks, type CheckerRole } from './roles/checker/index.js'
import { ChallengeService, type ChallengeResponder } from './roles/provider/challenge-service.js'
import { PopwMetrics } from './popw/metrics.js'
import { epochRegistry } from './popw/registry.js'
import { PopwService } from './popw/service.js'
import { popwRoutes } from './api/routes/popw.js'
import { agentVersion, wireRole } from './roles/role.js'
import { Discovery } from './services/discovery.js'
import { ProviderTable } from './services/provider-table.js'
import { openP2pDatastore, openStateDb, prepareDataDir } from './store/data-dir.js'
import { VERSION } from './version.js'
import type { Ledger } from '../chain/ledger.js'
import type { Outbox } from '../chain/outbox.js'
import type { ContainerRuntime } from './containers/runtime.js'
import type { HardwareInventory } from './hardware/schema.js'
import type { InProcessLinks } from './network/in-process-links.js'
import type { StateDb } from './store/state-db.js'
import type { ConnectionGater, Startable } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { Registry } from 'prom-client'

export interface PeerInfo {
  peerId: string
  role: AnnouncedRole | undefined
  agent: string | undefined
  addresses: string[]
  direction: 'inbound' | 'outbound'
  limited: boolean
}

export interface NodeStatus {
  peerId: string
  role: Role
  version: string
  wallet: string
  addresses: string[]
  api?: string
  uptimeS: number
  peers: PeerInfo[]
  gossipTopics: string[]
  providers?: { online: number, known: number }
  /** Providers: how far their announcement got. */
  provider?: { registered: boolean, recordVersion: string, capabilitiesPending: number, leases: number, containers: boolean }
}

/** What a node runs on: given by `create` for a process, by the simulator for in-process nodes. */
export interface NodeEnvironment {
  stateDb: StateDb
  datastore?: Datastore
  transport: 'tcp' | 'memory'
  /** Serve the HTTP API (processes do; simulated nodes do not). */
  api: boolean
  /** Register libp2p's own metrics here; omitted in the simulator. */
  metricsRegistry?: Registry
  logger: Logger
  processStart?: number
  /** Closed by `stop` (the stores `create` opened). */
  ownedStores?: Array<{ close: () => Promise<void> }>
  /** Memory transport: latency of each message this node sends. */
  memoryLatencyMs?: number
  /** TCP transport in the simulator: dials to this process's other nodes stay in memory. */
  inProcessLinks?: InProcessLinks
  /** Provider: this inventory instead of probing (simulated hardware). */
  inventory?: HardwareInventory
  /** Provider: the container engine leases run on (closed by `stop`). */
  runtime?: ContainerRuntime
  /**
   * Test-only misbehaviour for the simulator (cheating providers, lying checkers). Reachable only
   * through `build` (never `create`): no config file, flag or environment variable sets it.
   */
  popwHooks?: { responder?: ChallengeResponder, checker?: CheckerHooks }
  /**
   * Simulator only (a network partition, sim/partition.ts): the peers this node may connect to.
   * Like `popwHooks`, reachable only through `build`; a real process never sets it.
   */
  connectionGater?: ConnectionGater
}

/** A provider's Docker engine, checked at start: no engine, no provider (a clear one-line error). */
async function openDocker (owner: string, logger: Logger): Promise<ContainerRuntime> {
  const { DockerRuntime } = await import('./containers/docker.js')
  const runtime = new DockerRuntime({ owner })
  try {
    const info = await runtime.check({ signal: AbortSignal.timeout(15_000) })
    logger.info({ engine: info.endpoint, version: info.version, gpu: info.gpu.status }, 'container engine')
    return runtime
  } catch (err) {
    await runtime.close().catch(() => {})
    throw err
  }
}

/** The provider's container runtime as configured (undefined: it takes no leases). */
async function openRuntime (kind: NodeConfig['provider']['containers'], owner: string, logger: Logger): Promise<ContainerRuntime | undefined> {
  if (kind === 'docker') return await openDocker(owner, logger)
  if (kind === 'memory') {
    // Loaded only when asked for: the simulation runtime is no part of a real provider.
    const { MemoryRuntime } = await import('../sim/runtime.js')
    logger.warn('container runtime: memory (simulation: each lease port is a TCP server in this process answering HTTP 200)')
    return new MemoryRuntime()
  }
  return undefined
}

export interface KaisarNodeOptions {
  /** Logger to use instead of one made from config.logLevel. */
  logger?: Logger
  /** Time the process started, for the start-to-ready metric. */
  processStart?: number
}

export class KaisarNode {
  readonly config: NodeConfig
  readonly identity: NodeIdentity
  readonly log: Logger
  readonly metrics: NodeMetrics
  readonly libp2p: KaisarLibp2p
  readonly gossip: GossipService
  readonly peerRoles: PeerRoles
  readonly ledger: Ledger
  readonly outbox: Outbox
  readonly records: SignedRecordStore
  readonly discovery: Discovery
  readonly router: Router
  readonly api?: ApiServer
  /** Gateways and checkers keep the live provider table. */
  readonly providerTable?: ProviderTable
  readonly provider?: ProviderRole
  /** Proof of Physical Work as followed by checkers and gateways: outcomes, settlements, scores. */
  readonly popw?: PopwService
  readonly checker?: CheckerRole
  readonly popwMetrics: PopwMetrics
  private readonly env: NodeEnvironment
  /** Started in order, stopped in reverse. */
  private readonly services: Array<[string, Startable]> = []
  private readonly startedAt = Date.now()
  private running = false

  private constructor (init: { config: NodeConfig, identity: NodeIdentity, env: NodeEnvironment, metrics: NodeMetrics, libp2p: KaisarLibp2p, gossip: GossipService, ledger: Awaited<ReturnType<typeof openNodeLedger>> }) {
    const { config, identity, env, metrics, libp2p } = init
    const log = env.logger
    this.config = config
    this.identity = identity
    this.env = env
    this.log = log
    this.metrics = metrics
    this.libp2p = libp2p
    this.gossip = init.gossip
    this.ledger = init.ledger.ledger
    this.outbox = init.ledger.outbox
    this.peerRoles = new PeerRoles(libp2p)
    this.records = new SignedRecordStore({ libp2p, privateKey: identity.privateKey, stateDb: env.stateDb, metrics, logger: log.child({ subsystem: 'records' }) })
    this.router = new Router()
    this.popwMetrics = new PopwMetrics(metrics.registry)

    this.services.push(['peer-roles', this.peerRoles])
    this.services.push(['gossip', this.gossip])
    this.services.push(['bootstrap', new BootstrapDialer({ libp2p, logger: log.child({ subsystem: 'bootstrap' }) }, { peers: config.bootstrap })])
    this.services.push(['bandwidth', new BandwidthService(libp2p)])
    this.services.push(...init.ledger.services)

    if (config.role === 'provider') {
      this.provider = createProviderRole({
        config, libp2p, gossip: this.gossip, records: this.records, peerRoles: this.peerRoles, ledger: this.ledger,
        outbox: this.outbox, identity, stateDb: env.stateDb, logger: log, metrics, inventory: env.inventory, runtime: env.runtime
      })
      this.services.push(...this.provider.services)
      // Checkers' seeded challenges, record requests and lease tokens (Proof of Physical Work).
      this.services.push(['challenge', new ChallengeService({
        libp2p, registry: epochRegistry({ ledger: this.ledger, logger: log }, config.popw), leases: this.provider.leases, publisher: this.provider.publisher, logger: log.child({ subsystem: 'challenge' }), metrics: this.popwMetrics, responder: env.popwHooks?.responder
      })])
      const runtime = env.runtime
      if (runtime != null) this.services.unshift(['container-runtime', { start: () => {}, stop: async () => { await runtime.close() } }])
    } else {
      // Gateways serve the live network view; checkers decide whom to probe from it.
      this.providerTable = new ProviderTable({ gossip: this.gossip, metrics }, { missedBeforeOffline: config.heartbeat.missedBeforeOffline })
      this.services.push(['provider-table', this.providerTable])
      this.popw = new PopwService({ libp2p, gossip: this.gossip, ledger: this.ledger, stateDb: env.stateDb, logger: log.child({ subsystem: 'popw' }), metrics: this.popwMetrics }, { config: config.popw })
      this.services.push(['popw', this.popw])
      if (config.role === 'checker') {
        this.checker = createCheckerRole({
          config, libp2p, gossip: this.gossip, records: this.records, ledger: this.ledger, outbox: this.outbox, identity, logger: log, popw: this.popw, popwMetrics: this.popwMetrics, providerTable: this.providerTable, hooks: env.popwHooks?.checker
        })
        this.services.push(...this.checker.services)
      }
    }
    if (config.network.relayServer) {
      const policy = new RelayPolicy(libp2p, log.child({ subsystem: 'relay-policy' }))
      this.services.push(['relay-policy', policy])
      const splice = env.transport === 'tcp' ? parseHostPort(config.network.spliceListen) : undefined
      if (splice != null) this.services.push(['splice-relay', new SpliceRelay({ libp2p, policy, logger: log.child({ subsystem: 'splice-relay' }), metrics }, splice)])
    }
    this.discovery = new Discovery({ libp2p, records: this.records, logger: log.child({ subsystem: 'discovery' }), providerTable: this.providerTable })

    nodeRoutes(this.router, this)
    ledgerRoutes(this.router, this)
    providerRoutes(this.router, this)
    webRoutes(this.router)
    if (config.role === 'gateway') ingressRoutes(this.router, { libp2p, discovery: this.discovery, logger: log.child({ subsystem: 'ingress' }), metrics })
    popwRoutes(this.router, this)
    if (env.api) {
      const api = parseHostPort(config.api) ?? { host: '127.0.0.1', port: 0 }
      this.api = new ApiServer({ logger: log.child({ subsystem: 'api' }), metrics }, { ...api, router: this.router, verifier: new RequestVerifier() })
      // First: a taken port fails the start before anything else has run (one clear line);
      // /healthz says false until every service is up.
      this.services.unshift(['api', this.api])
    }
  }

  /** A node process: prepares the data dir, keys and LevelDB stores; builds (but does not start) the node. */
  static async create (config: NodeConfig, options: KaisarNodeOptions = {}): Promise<KaisarNode> {
    const logger = options.logger ?? createLogger(config.logLevel, { role: config.role })
    const layout = await prepareDataDir(config.dataDir)
    const identity = await loadOrCreateIdentity(layout.root, config.passphrase)
    const stateDb = await openStateDb(layout)
    const owned: Array<{ close: () => Promise<void> }> = [stateDb]
    try {
      const datastore = await openP2pDatastore(layout)
      owned.unshift(datastore)
      const metrics = new NodeMetrics()
      const runtime = config.role !== 'provider' ? undefined : await openRuntime(config.provider.containers, identity.peerId.toString(), logger)
      return await KaisarNode.build(config, identity, {
        stateDb, datastore, transport: 'tcp', api: true, metricsRegistry: metrics.registry, logger, processStart: options.processStart, ownedStores: owned, runtime
      }, metrics)
    } catch (err) {
      for (const store of owned) await store.close().catch(() => {})
      throw err
    }
  }

  /** A node in a given environment (the simulator's way in). */
  static async build (config: NodeConfig, identity: NodeIdentity, env: NodeEnvironment, metrics = new NodeMetrics()): Promise<KaisarNode> {
    const libp2p = await createNetwork({
      privateKey: identity.privateKey,
      datastore: env.datastore,
      listen: config.listen,
      announce: config.announce,
      transport: env.transport,
      websockets: config.network.websockets,
      agentVersion: agentVersion(VERSION, config.role),
      maxConnections: config.network.maxConnections,
      inboundConnectionThreshold: config.network.inboundConnectionThreshold,
      dhtServer: config.network.dhtServer,
      connectionMonitorMs: config.network.connectionMonitorMs,
      keepAliveMs: config.network.keepAliveMs,
      gossipHeartbeatMs: config.network.gossipHeartbeatMs,
      dhtSelfQueryMs: config.network.dhtSelfQueryMs,
      gossipMesh: config.network.gossipMesh,
      gossipPeerExchange: config.role === 'gateway',
      bootstrapPeers: bootstrapPeers(config.bootstrap).map(b => b.peerId.toString()),
      relayServer: config.network.relayServer,
      autonat: config.network.autonat,
      dcutr: config.network.dcutr,
      records: recordValidators(new RecordVersionIndex(env.stateDb), metrics),
      metricsRegistry: env.metricsRegistry,
      memoryLatencyMs: env.memoryLatencyMs,
      inProcessLinks: env.inProcessLinks,
      connectionGater: env.connectionGater
    })
    const gossip = new GossipService(
      { pubsub: libp2p.services.pubsub, privateKey: identity.privateKey, peerId: libp2p.peerId, metrics, logger: env.logger.child({ subsystem: 'gossip' }) },
      { role: wireRole(config.role) }
    )
    const ledger = await openNodeLedger({ config, libp2p, gossip, identity, stateDb: env.stateDb, logger: env.logger, metrics })
    return new KaisarNode({ config, identity, env, metrics, libp2p, gossip, ledger })
  }

  get peerId (): string { return this.libp2p.peerId.toString() }
  get isRunning (): boolean { return this.running }

  async start (): Promise<void> {
    try {
      await this.libp2p.start()
    } catch (err) {
      await this.ledger.close().catch(() => {})
      await this.closeStores()
      throw this.listenError(err)
    }
    const started: Array<[string, Startable]> = []
    try {
      for (const [name, service] of this.services) {
        await service.start()
        started.push([name, service])
      }
    } catch (err) {
      for (const [, service] of started.reverse()) await Promise.resolve(service.stop()).catch(() => {})
      await Promise.resolve(this.libp2p.stop()).catch(() => {})
      await this.ledger.close().catch(() => {}) // a hosted chain produces blocks from open: stop it before its DB closes
      await this.closeStores()
      throw err
    }
    this.running = true
    const readyS = (Date.now() - (this.env.processStart ?? this.startedAt)) / 1000
    this.metrics.startupSeconds.set(readyS)
    this.log.info({ peerId: this.peerId, role: this.config.role, addresses: this.addresses(), api: this.api?.url, wallet: this.identity.wallet.address, readyS }, 'node ready')
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.log.info('node stopping')
    for (const [name, service] of [...this.services].reverse()) {
      try { await service.stop() } catch (err: unknown) { this.log.warn({ service: name, err }, 'service failed to stop cleanly') }
    }
    try { await this.libp2p.stop() } catch (err: unknown) { this.log.warn({ err }, 'libp2p failed to stop cleanly') }
    await this.closeStores()
    this.log.info('node stopped')
  }

  addresses (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  peers (): PeerInfo[] {
    return this.libp2p.getConnections().map(conn => ({
      peerId: conn.remotePeer.toString(),
      role: this.peerRoles.role(conn.remotePeer),
      agent: this.peerRoles.agent(conn.remotePeer),
      addresses: [conn.remoteAddr.toString()],
      direction: conn.direction,
      limited: conn.limits != null
    }))
  }

  status (): NodeStatus {
    const providers = this.providerTable?.counts()
    return {
      peerId: this.peerId,
      role: this.config.role,
      version: VERSION,
      wallet: this.identity.wallet.address,
      addresses: this.addresses(),
      api: this.api?.url,
      uptimeS: Math.floor((Date.now() - this.startedAt) / 1000),
      peers: this.peers(),
      gossipTopics: this.libp2p.services.pubsub.getTopics(),
      providers,
      provider: this.provider == null
        ? undefined
        : {
            registered: this.provider.registrar.isRegistered,
            recordVersion: this.provider.publisher.version.toString(),
            capabilitiesPending: this.provider.advertiser.outstanding,
            leases: this.provider.leases.usage().leases,
            containers: this.env.runtime != null
          }
    }
  }

  private listenError (err: unknown): unknown {
    const code = systemErrorCode(err) ?? systemErrorCode((err as { cause?: unknown }).cause)
    const text = String((err as Error)?.message ?? err)
    if (code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(text)) {
      return new StartupError('ADDRESS_IN_USE', `listen ${this.config.listen.join(', ')}: address already in use (another node on this port? set --listen)`)
    }
    if (code === 'EADDRNOTAVAIL' || /EADDRNOTAVAIL/.test(text)) {
      return new StartupError('ADDRESS_UNAVAILABLE', `listen ${this.config.listen.join(', ')}: address not available on this host`)
    }
    return err
  }

  private async closeStores (): Promise<void> {
    for (const store of this.env.ownedStores ?? []) await store.close().catch(() => {})
  }
}
