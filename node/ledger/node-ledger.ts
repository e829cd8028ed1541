// Which ledger a node uses, from its config: the local ledger it hosts (`--ledger-host`),
// the local ledger of another node over /kaisar/ledger/1.0.0 (the default: the peer given by
// `--ledger-peer`, else the first bootstrap peer), or peaq (`--chain ws://…`). Also the
// outbox every settlement and payment goes through, and block announcements on gossip.
import { multiaddr } from '@multiformats/multiaddr'
import { LocalChain } from '../../chain/local/chain.js'
import { LedgerServer, RemoteLedger } from '../../chain/local/protocol.js'
import { Outbox } from '../../chain/outbox.js'
import { ConfigError } from '../errors.js'
import { ledgerTopic } from '../network/gossip/topics.js'
import type { Ledger } from '../../chain/ledger.js'
import { PEAQ_ESCROW_MISSING, type NodeConfig } from '../config/schema.js'
import type { NodeIdentity } from '../identity/keystore.js'
import type { Logger } from '../log.js'
import type { NodeMetrics } from '../metrics/registry.js'
import type { GossipService } from '../network/gossip/service.js'
import type { KaisarLibp2p } from '../network/libp2p.js'
import type { StateDb } from '../store/state-db.js'
import type { Startable } from '@libp2p/interface'

export interface NodeLedger {
  ledger: Ledger
  outbox: Outbox
  /** Peer id of the local ledger's host (undefined on peaq). */
  hostPeerId?: string
  /** Services to start (in order) and stop (in reverse) with the node. */
  services: Array<[string, Startable]>
}

/** Announces the host's new blocks: every block with transactions, and at least every 10 s. */
class LedgerAnnouncer implements Startable {
  private unsubscribe?: () => void
  private lastAnnounced = 0
  constructor (private readonly chain: LocalChain, private readonly gossip: GossipService, private readonly log: Logger, private readonly hostPeerId: string) {}

  async start (): Promise<void> {
    const topic = ledgerTopic(this.hostPeerId)
    this.gossip.register(topic)
    this.unsubscribe = this.chain.subscribe(event => {
      if (event.txCount === 0 && event.head.timestamp - this.lastAnnounced < 10_000) return
      this.lastAnnounced = event.head.timestamp
      this.gossip.publish(topic, { height: BigInt(event.head.height), hash: Buffer.from(event.head.hash.slice(2), 'hex'), timestamp: BigInt(event.head.timestamp), txCount: event.txCount })
        .catch(err => { this.log.debug({ err: (err as Error).message }, 'block announcement failed') })
    })
  }

  async stop (): Promise<void> { this.unsubscribe?.() }
}

/** Feeds the host's block announcements to a RemoteLedger's subscribers. */
class LedgerFollower implements Startable {
  constructor (private readonly remote: RemoteLedger, private readonly gossip: GossipService, private readonly hostPeerId: string) {}
  async start (): Promise<void> {
    this.gossip.register(ledgerTopic(this.hostPeerId), msg => {
      const b = msg.value
      this.remote.notify({ kind: 'block', head: { height: Number(b.height), hash: `0x${Buffer.from(b.hash).toString('hex')}`, timestamp: Number(b.timestamp) }, txCount: b.txCount })
    })
  }

  async stop (): Promise<void> {}
}

/** Stops the ledger after the services that use it. */
class LedgerCloser implements Startable {
  constructor (private readonly ledger: Ledger) {}
  async start (): Promise<void> {}
  async stop (): Promise<void> { await this.ledger.close() }
}

export interface NodeLedgerComponents {
  config: NodeConfig
  libp2p: KaisarLibp2p
  gossip: GossipService
  identity: NodeIdentity
  stateDb: StateDb
  logger: Logger
  metrics: NodeMetrics
}

export async function openNodeLedger (c: NodeLedgerComponents): Promise<NodeLedger> {
  const log = c.logger.child({ subsystem: 'ledger' })
  const services: Array<[string, Startable]> = []
  let ledger: Ledger
  let hostPeerId: string | undefined

  if (c.config.chain !== 'local') {
    // peaq: loaded only when asked for (it pulls in @polkadot/api).
    // The config schema refuses this already; the check narrows the type for what follows.
    if (c.config.peaq.escrow == null) throw new ConfigError('peaq.escrow', PEAQ_ESCROW_MISSING)
    const { createPeaqLedger } = await import('../../chain/peaq/index.js')
    ledger = await createPeaqLedger(c.config.chain, { escrow: c.config.peaq.escrow, namespace: c.config.peaq.namespace, connectTimeoutMs: c.config.peaq.connectTimeoutMs, logger: log })
  } else if (c.config.ledgerHost || (c.config.ledgerPeer == null && c.config.bootstrap.length === 0)) {
    // A node with nobody to ask (no ledger peer, no bootstrap peer) is the first of its
    // network: it hosts the ledger, as a `--dev` chain would.
    const chain = await LocalChain.open(c.stateDb, { hostKey: c.identity.privateKey })
    hostPeerId = c.libp2p.peerId.toString()
    ledger = chain
    services.push(['ledger-server', new LedgerServer({ libp2p: c.libp2p, chain, logger: log })])
    services.push(['ledger-announcer', new LedgerAnnouncer(chain, c.gossip, log, hostPeerId)])
  } else {
    const host = c.config.ledgerPeer ?? c.config.bootstrap[0]
    if (host == null) throw new ConfigError('ledgerPeer', 'a node on the local ledger needs --ledger-peer (or a bootstrap peer that hosts the ledger), or --ledger-host')
    const addr = multiaddr(host)
    hostPeerId = addr.getComponents().find(x => x.name === 'p2p')?.value
    if (hostPeerId == null) throw new ConfigError('ledgerPeer', 'must end with /p2p/<peer id>')
    const remote = new RemoteLedger(c.libp2p, { host: addr })
    ledger = remote
    services.push(['ledger-follower', new LedgerFollower(remote, c.gossip, hostPeerId)])
  }

  const outbox = new Outbox({
    ledger,
    wallet: c.identity.wallet,
    db: c.stateDb,
    logger: log.child({ subsystem: 'outbox' }),
    metrics: {
      onSent: (kind, result) => { c.metrics.outboxSent.inc({ kind, result }) },
      onPending: count => { c.metrics.outboxPending.set(count) }
    }
  })
  // Start order: serving/following first, then the outbox; stop in reverse, the ledger last.
  return { ledger, outbox, hostPeerId, services: [['ledger-closer', new LedgerCloser(ledger)], ...services, ['outbox', outbox]] }
}
