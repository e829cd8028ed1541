// KaisarNode: one node, any role. Builds the stack from a validated config, starts the
// services the role needs, and stops them in reverse order so nothing is lost on exit.
import { peerIdFromString } from '@libp2p/peer-id'
import { RECORD_NAMESPACES } from '../protocols/ids.js'
import { ProviderRecord } from '../protocols/records/provider-record.js'
import { RequestVerifier } from './api/auth.js'
import { HttpError, Router } from './api/router.js'
import { ApiServer } from './api/server.js'
import { parseHostPort, type NodeConfig } from './config/schema.js'
import { StartupError, systemErrorCode } from './errors.js'
import { loadOrCreateIdentity, type NodeIdentity } from './identity/keystore.js'
import { createLogger, type Logger } from './log.js'
import { NodeMetrics } from './metrics/registry.js'
import { BootstrapDialer } from './network/bootstrap.js'
import { GossipService } from './network/gossip/service.js'
import { createNetwork, type KaisarLibp2p } from './network/libp2p.js'
import { SignedRecordStore } from './network/records/store.js'
import { RecordVersionIndex, recordValidators } from './network/records/validators.js'
import { openNodeLedger, type NodeLedger } from './ledger/node-ledger.js'
import { HeartbeatPublisher } from './roles/provider/heartbeat.js'
import { ProviderRecordPublisher } from './roles/provider/record-publisher.js'
import { agentVersion, roleFromAgent, wireRole } from './roles/role.js'
import { ProviderTable } from './services/provider-table.js'
import { openP2pDatastore, openStateDb, prepareDataDir, type DataDirLayout } from './store/data-dir.js'
import { VERSION } from './version.js'
import type { Role } from './config/schema.js'
import type { Ledger } from '../chain/ledger.js'
import type { Outbox } from '../chain/outbox.js'
import type { PeerId, Startable } from '@libp2p/interface'
import type { LevelDatastore } from 'datastore-level'
import type { StateDb } from './store/state-db.js'

export interface PeerInfo {
  peerId: string
  role: Role | 'user' | undefined
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
  api: string
  uptimeS: number
  peers: PeerInfo[]
  gossipTopics: string[]
  providers?: { online: number, known: number }
}

function parsePeer (text: string | undefined): PeerId {
  try {
    return peerIdFromString(text ?? '')
  } catch {
    throw new HttpError(400, `not a peer id: ${text ?? ''}`)
  }
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
  readonly ledger: Ledger
  readonly outbox: Outbox
  readonly records: SignedRecordStore
  readonly api: ApiServer
  readonly router: Router
  readonly providerTable?: ProviderTable
  readonly recordPublisher?: ProviderRecordPublisher
  private readonly layout: DataDirLayout
  private readonly stateDb: StateDb
  private readonly datastore: LevelDatastore
  /** Started in order, stopped in reverse. */
  private readonly services: Array<[string, Startable]> = []
  private readonly startedAt = Date.now()
  private readonly processStart: number
  /** Agent versions (and so roles) of peers; identify puts them in the peer store's metadata. */
  private readonly agents = new Map<string, string>()
  private running = false

  private constructor (init: {
    config: NodeConfig, identity: NodeIdentity, log: Logger, metrics: NodeMetrics, libp2p: KaisarLibp2p,
    layout: DataDirLayout, stateDb: StateDb, datastore: LevelDatastore, processStart: number,
    gossip: GossipService, nodeLedger: NodeLedger
  }) {
    this.config = init.config
    this.identity = init.identity
    this.log = init.log
    this.metrics = init.metrics
    this.libp2p = init.libp2p
    this.layout = init.layout
    this.stateDb = init.stateDb
    this.datastore = init.datastore
    this.processStart = init.processStart
    const { libp2p, metrics, log, config } = this
    this.gossip = init.gossip
    this.records = new SignedRecordStore({ libp2p, privateKey: this.identity.privateKey, stateDb: this.stateDb, metrics, logger: log.child({ subsystem: 'records' }) })
    this.router = new Router()
    const api = parseHostPort(config.api) ?? { host: '127.0.0.1', port: 0 }
    this.api = new ApiServer({ logger: log.child({ subsystem: 'api' }), metrics }, { ...api, router: this.router, verifier: new RequestVerifier() })

    this.services.push(['gossip', this.gossip])
    this.services.push(['bootstrap', new BootstrapDialer({ libp2p, logger: log.child({ subsystem: 'bootstrap' }) }, { peers: config.bootstrap })])
    this.services.push(...init.nodeLedger.services)
    this.ledger = init.nodeLedger.ledger
    this.outbox = init.nodeLedger.outbox

    if (config.role === 'provider') {
      this.recordPublisher = new ProviderRecordPublisher({ records: this.records, logger: log.child({ subsystem: 'provider-record' }) }, {
        content: () => this.providerRecordContent()
      })
      this.services.push(['provider-record', this.recordPublisher])
      const publisher = this.recordPublisher
      this.services.push(['heartbeat', new HeartbeatPublisher({ gossip: this.gossip, logger: log.child({ subsystem: 'heartbeat' }) }, {
        intervalMs: config.heartbeat.intervalMs,
        // Real capacity comes from the hardware inventory and the lease store once they exist.
        capacity: () => ({ freeCpus: 0, freeMemoryBytes: 0n, freeGpus: 0, runningLeases: 0 }),
        recordVersion: () => publisher.version
      })])
    } else {
      // Gateways serve the live network view; checkers decide whom to probe from it.
      this.providerTable = new ProviderTable({ gossip: this.gossip, metrics }, { missedBeforeOffline: config.heartbeat.missedBeforeOffline })
      this.services.push(['provider-table', this.providerTable])
    }
    this.services.push(['api', this.api])
    this.addRoutes()
  }

  /** Prepares the data dir, keys and stores, and builds (but does not start) the node. */
  static async create (config: NodeConfig, options: KaisarNodeOptions = {}): Promise<KaisarNode> {
    const log = options.logger ?? createLogger(config.logLevel, { role: config.role })
    const layout = await prepareDataDir(config.dataDir)
    const identity = await loadOrCreateIdentity(layout.root, config.passphrase)
    const stateDb = await openStateDb(layout)
    let datastore: LevelDatastore | undefined
    try {
      datastore = await openP2pDatastore(layout)
      const metrics = new NodeMetrics()
      const libp2p = await createNetwork({
        privateKey: identity.privateKey,
        datastore,
        listen: config.listen,
        announce: config.announce,
        transport: 'tcp',
        websockets: config.network.websockets,
        agentVersion: agentVersion(VERSION, config.role),
        maxConnections: config.network.maxConnections,
        inboundConnectionThreshold: config.network.inboundConnectionThreshold,
        dhtServer: config.network.dhtServer,
        relayServer: config.network.relayServer,
        autonat: config.network.autonat,
        dcutr: config.network.dcutr,
        records: recordValidators(new RecordVersionIndex(stateDb), metrics),
        metricsRegistry: metrics.registry
      })
      const gossip = new GossipService(
        { pubsub: libp2p.services.pubsub, privateKey: identity.privateKey, peerId: libp2p.peerId, metrics, logger: log.child({ subsystem: 'gossip' }) },
        { role: wireRole(config.role) }
      )
      const nodeLedger = await openNodeLedger({ config, libp2p, gossip, identity, stateDb, logger: log, metrics })
      return new KaisarNode({ config, identity, log, metrics, libp2p, layout, stateDb, datastore, processStart: options.processStart ?? Date.now(), gossip, nodeLedger })
    } catch (err) {
      await datastore?.close().catch(() => {})
      await stateDb.close().catch(() => {})
      throw err
    }
  }

  get peerId (): string { return this.libp2p.peerId.toString() }
  get dataDir (): string { return this.layout.root }

  async start (): Promise<void> {
    try {
      await this.libp2p.start()
    } catch (err) {
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
      await this.closeStores()
      throw err
    }
    this.running = true
    const readyS = (Date.now() - this.processStart) / 1000
    this.metrics.startupSeconds.set(readyS)
    this.log.info({ peerId: this.peerId, role: this.config.role, addresses: this.addresses(), api: this.api.url, wallet: this.identity.wallet.address, readyS }, 'node ready')
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
    return this.libp2p.getConnections().map(conn => {
      const agent = this.agentOf(conn.remotePeer.toString())
      return {
        peerId: conn.remotePeer.toString(),
        role: roleFromAgent(agent),
        agent,
        addresses: [conn.remoteAddr.toString()],
        direction: conn.direction,
        limited: conn.limits != null
      }
    })
  }

  status (): NodeStatus {
    const peers = this.peers()
    const providers = this.providerTable?.list()
    return {
      peerId: this.peerId,
      role: this.config.role,
      version: VERSION,
      wallet: this.identity.wallet.address,
      addresses: this.addresses(),
      api: this.api.url,
      uptimeS: Math.floor((Date.now() - this.startedAt) / 1000),
      peers,
      gossipTopics: this.libp2p.services.pubsub.getTopics(),
      providers: providers == null ? undefined : { online: providers.filter(p => p.online).length, known: providers.length }
    }
  }

  private providerRecordContent (): ProviderRecord {
    return {
      wallet: this.identity.wallet.address,
      region: this.config.region,
      softwareVersion: VERSION,
      addresses: this.addresses(),
      inventoryJson: '',
      benchmarkJson: '',
      pricesJson: ''
    }
  }

  private agentOf (peerId: string): string | undefined {
    return this.agents.get(peerId)
  }

  private async refreshAgents (): Promise<void> {
    for (const conn of this.libp2p.getConnections()) {
      const key = conn.remotePeer.toString()
      if (this.agents.has(key)) continue
      try {
        const peer = await this.libp2p.peerStore.get(conn.remotePeer)
        const agent = peer.metadata.get('AgentVersion')
        if (agent != null) this.agents.set(key, new TextDecoder().decode(agent))
      } catch {}
    }
  }

  private addRoutes (): void {
    const r = this.router
    r.get('/healthz', () => ({ ok: this.running }))
    r.get('/metrics', async ({ res }) => {
      this.updatePeerGauge()
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType })
      res.end(await this.metrics.registry.metrics())
    })
    r.get('/api/v1/status', async () => { await this.refreshAgents(); return this.status() })
    r.get('/api/v1/peers', async () => { await this.refreshAgents(); return this.peers() })
    r.get('/api/v1/wallet', async () => {
      const account = await this.ledger.account(this.identity.wallet.address)
      return { ...account, type: this.identity.wallet.type, chain: this.config.chain, symbol: this.ledger.symbol, decimals: this.ledger.decimals }
    })
    r.get('/api/v1/ledger', async () => ({ kind: this.ledger.kind, chain: this.config.chain, symbol: this.ledger.symbol, decimals: this.ledger.decimals, head: await this.ledger.head(), outboxPending: this.outbox.pending() }))
    r.get('/api/v1/peers/:peer/ping', async ({ params }) => {
      const peer = parsePeer(params.peer)
      try {
        const rttMs = await this.libp2p.services.ping.ping(peer, { signal: AbortSignal.timeout(10_000) })
        return { peerId: peer.toString(), rttMs }
      } catch (err) {
        throw new HttpError(504, `ping ${peer.toString()} failed: ${(err as Error).message}`)
      }
    })
    r.get('/api/v1/providers', () => {
      if (this.providerTable == null) throw new HttpError(404, 'this node keeps no provider table (ask a gateway or checker)')
      return this.providerTable.list()
    })
    r.get('/api/v1/providers/:peer/record', async ({ params }) => {
      const peer = parsePeer(params.peer)
      const found = await this.records.fetch(RECORD_NAMESPACES.provider, peer, AbortSignal.timeout(10_000))
      if (found == null) throw new HttpError(404, `no provider record for ${peer.toString()}`)
      return { peerId: found.signer.toString(), version: found.version, timestamp: found.timestamp, record: ProviderRecord.decode(found.payload) }
    })
  }

  private updatePeerGauge (): void {
    this.metrics.peersConnected.reset()
    for (const peer of this.peers()) this.metrics.peersConnected.inc({ role: peer.role ?? 'unknown' })
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
    await this.datastore.close().catch(() => {})
    await this.stateDb.close().catch(() => {})
  }
}
