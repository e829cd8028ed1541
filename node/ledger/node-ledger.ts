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
import type { ChainHead, Ledger } from '../../chain/ledger.js'
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

/** At most this many milliseconds between announcements, however many blocks the host makes. */
export const ANNOUNCE_SPACING_MS = 500
/** An idle ledger (blocks without transactions) is still announced this often: the time it has reached. */
const IDLE_ANNOUNCE_MS = 10_000

/**
 * Announces the host's new blocks: the newest head at most every ANNOUNCE_SPACING_MS while
 * blocks carry transactions, and at least every 10 s otherwise. The host makes a block a few
 * milliseconds after each transaction, so announcing every block would make gossip to the
 * whole network grow with the number of transactions (every registration at a node's start);
 * an announcement carries the transactions of all the blocks since the previous one instead.
 */
export class LedgerAnnouncer implements Startable {
  private unsubscribe?: () => void
  private head?: ChainHead
  private txSince = 0
  private lastAnnouncedBlockTime = 0
  private lastSentAt = 0
  private timer?: ReturnType<typeof setTimeout>
  private readonly topic: ReturnType<typeof ledgerTopic>
  constructor (private readonly chain: LocalChain, private readonly gossip: GossipService, private readonly log: Logger, hostPeerId: string) {
    this.topic = ledgerTopic(hostPeerId)
  }

  async start (): Promise<void> {
    this.gossip.register(this.topic)
    this.unsubscribe = this.chain.subscribe(event => { this.onBlock(event.head, event.txCount) })
  }

  async stop (): Promise<void> {
    this.unsubscribe?.()
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private onBlock (head: ChainHead, txCount: number): void {
    this.head = head
    this.txSince += txCount
    if (this.txSince === 0 && head.timestamp - this.lastAnnouncedBlockTime < IDLE_ANNOUNCE_MS) return
    if (this.timer != null) return // an announcement is already due; it will carry this block
    const wait = this.lastSentAt + ANNOUNCE_SPACING_MS - Date.now()
    if (wait <= 0) this.announce()
    else this.timer = setTimeout(() => { this.timer = undefined; this.announce() }, wait)
  }

  private announce (): void {
    const head = this.head
    if (head == null) return
    const txCount = this.txSince
    this.txSince = 0
    this.lastAnnouncedBlockTime = head.timestamp
    this.lastSentAt = Date.now()
    this.gossip.publish(this.topic, { height: BigInt(head.height), hash: Buffer.from(head.hash.slice(2), 'hex'), timestamp: BigInt(head.timestamp), txCount })
      .catch(err => { this.log.debug({ err: (err as Error).message }, 'block announcement failed') })
  }
}

/**
 * Feeds the host's block announcements to a RemoteLedger's subscribers, joining the ledger
 * topic only once the node has one (checkers' and gateways' PoPW): a provider reads no block
 * events, and following would make it forward every announcement to its mesh peers.
 */
class LedgerFollower implements Startable {
  constructor (private readonly remote: RemoteLedger, private readonly gossip: GossipService, private readonly hostPeerId: string) {}
  async start (): Promise<void> {
    this.remote.whenFollowed(() => {
      this.gossip.register(ledgerTopic(this.hostPeerId), msg => {
        const b = msg.value
        this.remote.notify({ kind: 'block', head: { height: Number(b.height), hash: `0x${Buffer.from(b.hash).toString('hex')}`, timestamp: Number(b.timestamp) }, txCount: b.txCount })
      })
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
