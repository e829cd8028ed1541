// An end user's node, for the length of one CLI command (order, connect, cancel, logs):
// its own keys (peer key: the tunnels' Noise identity; wallet: pays the escrow), a libp2p
// client joined through the gateways, the ledger, and the user's lease book.
import { multiaddr } from '@multiformats/multiaddr'
import { pino } from 'pino'
import { RemoteLedger } from '../../chain/local/protocol.js'
import { ConfigError } from '../errors.js'
import { loadOrCreateIdentity, type NodeIdentity } from '../identity/keystore.js'
import { NodeMetrics } from '../metrics/registry.js'
import { createNetwork, type KaisarLibp2p } from '../network/libp2p.js'
import { SignedRecordStore } from '../network/records/store.js'
import { RecordVersionIndex, recordValidators } from '../network/records/validators.js'
import { Discovery } from '../services/discovery.js'
import { openStateDb, prepareDataDir } from '../store/data-dir.js'
import { VERSION } from '../version.js'
import { AGENT_PREFIX } from '../../protocols/ids.js'
import { LeaseBook } from './lease-book.js'
import type { Ledger } from '../../chain/ledger.js'
import type { Logger } from '../log.js'
import type { StateDb } from '../store/state-db.js'

export interface UserNodeOptions {
  dataDir: string
  /** Gateways to join through (…/p2p/<id>); the first hosts the local ledger unless `ledgerPeer` says otherwise. */
  gateways: string[]
  chain: string
  ledgerPeer?: string
  /** On peaq: the deployment's escrow account. */
  peaqEscrow?: string
  passphrase?: string
  logger?: Logger
}

export class UserNode {
  private constructor (
    /** Peer ids of the gateways this user joined through (holders of its lease tokens, for their HTTP ingress). */
    readonly gatewayPeers: string[],
    readonly identity: NodeIdentity,
    readonly libp2p: KaisarLibp2p,
    readonly ledger: Ledger,
    readonly discovery: Discovery,
    readonly book: LeaseBook,
    readonly log: Logger,
    private readonly stateDb: StateDb
  ) {}

  static async open (opts: UserNodeOptions): Promise<UserNode> {
    if (opts.gateways.length === 0) throw new ConfigError('gateway', 'give --gateway /ip4/…/tcp/…/p2p/<gateway peer id> (or KAISAR_GATEWAY)')
    const log = opts.logger ?? pino({ level: 'silent' })
    const layout = await prepareDataDir(opts.dataDir)
    const identity = await loadOrCreateIdentity(layout.root, opts.passphrase)
    const stateDb = await openStateDb(layout)
    try {
      const metrics = new NodeMetrics()
      const libp2p = await createNetwork({
        privateKey: identity.privateKey, listen: [], transport: 'tcp', websockets: true, agentVersion: `${AGENT_PREFIX}${VERSION} (user)`,
        maxConnections: 100, inboundConnectionThreshold: 10, dhtServer: false, relayServer: false, autonat: false, dcutr: true,
        records: recordValidators(new RecordVersionIndex(stateDb), metrics)
      })
      await libp2p.start()
      // Join through the gateways (any one answering is enough).
      const dials = await Promise.allSettled(opts.gateways.map(async g => await libp2p.dial(multiaddr(g), { signal: AbortSignal.timeout(10_000) })))
      if (dials.every(d => d.status === 'rejected')) {
        await libp2p.stop()
        throw new ConfigError('gateway', `no gateway answered: ${(dials[0] as PromiseRejectedResult).reason?.message ?? 'unreachable'}`)
      }
      let ledger: Ledger
      if (opts.chain === 'local') {
        ledger = new RemoteLedger(libp2p, { host: multiaddr(opts.ledgerPeer ?? opts.gateways[0] as string) })
      } else {
        if (opts.peaqEscrow == null) throw new ConfigError('peaq-escrow', 'ordering on peaq needs the deployment\'s escrow account (--peaq-escrow or KAISAR_PEAQ_ESCROW)')
        const { createPeaqLedger } = await import('../../chain/peaq/index.js')
        ledger = await createPeaqLedger(opts.chain, { escrow: opts.peaqEscrow, logger: log })
      }
      const records = new SignedRecordStore({ libp2p, privateKey: identity.privateKey, stateDb, metrics, logger: log })
      const discovery = new Discovery({ libp2p, records, logger: log })
      const gatewayPeers = opts.gateways.flatMap(g => { const id = multiaddr(g).getComponents().find(x => x.name === 'p2p')?.value; return id != null ? [id] : [] })
      return new UserNode(gatewayPeers, identity, libp2p, ledger, discovery, new LeaseBook(stateDb), log, stateDb)
    } catch (err) {
      await stateDb.close().catch(() => {})
      throw err
    }
  }

  /** A user node from parts built elsewhere: the simulator's users run in memory, joined over its memory transport. */
  static fromParts (p: { gatewayPeers: string[], identity: NodeIdentity, libp2p: KaisarLibp2p, ledger: Ledger, discovery: Discovery, stateDb: StateDb, logger?: Logger }): UserNode {
    const log = p.logger ?? pino({ level: 'silent' })
    return new UserNode(p.gatewayPeers, p.identity, p.libp2p, p.ledger, p.discovery, new LeaseBook(p.stateDb), log, p.stateDb)
  }

  async close (): Promise<void> {
    await this.ledger.close().catch(() => {})
    await Promise.resolve(this.libp2p.stop()).catch(() => {})
    await this.stateDb.close().catch(() => {})
  }
}

