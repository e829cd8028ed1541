// Keeps this node connected to its bootstrap peers. @libp2p/bootstrap dials once at start;
// a node that starts before its bootstrap peer (a devnet, a restart) would then stay alone.
// Here each bootstrap peer is dialled until it answers, with capped exponential backoff,
// tagged keep-alive, and dialled again whenever it drops.
//
// And identified: libp2p identifies a connection once, when it opens, within 5 s. When that
// fails (a busy peer: a simulated 1,000-node network), the connection stays up but no topology
// learns of the peer, so kad-dht's routing table stays empty; its first self-query then waits
// for a peer with no time limit, and every later query of the node waits behind it. The node
// never gets into the DHT (never advertised, its provides timing out round after round).
// Here a bootstrap connection not identified after `identifyCheckMs` is identified again (and
// after five failures closed, so that the redial brings a fresh one).
import { KEEP_ALIVE, type Connection, type IdentifyResult, type Libp2p, type PeerId, type Startable } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../log.js'
import type { Identify } from '@libp2p/identify'

export interface BootstrapDialerInit {
  peers: string[]
  minDelayMs?: number
  maxDelayMs?: number
  /** After a dial, how long before a connection not yet identified is identified again (default 10 s; libp2p's identify gives up after 5 s). */
  identifyCheckMs?: number
}

interface Target { peerId: PeerId, addr: Multiaddr, attempt: number, timer?: NodeJS.Timeout }

/** Identifies tried again on one connection; then it is closed, and the redial brings a fresh one. */
const MAX_REIDENTIFY = 5

/** The peer each bootstrap address names (…/p2p/<id>); the config schema refuses addresses without one. */
export function bootstrapPeers (addrs: readonly string[]): Array<{ peerId: PeerId, addr: Multiaddr }> {
  return addrs.flatMap(text => {
    const addr = multiaddr(text)
    const id = addr.getComponents().find(c => c.name === 'p2p')?.value
    return id == null ? [] : [{ peerId: peerIdFromString(id), addr }]
  })
}

export class BootstrapDialer implements Startable {
  private readonly libp2p: Libp2p<{ identify: Identify }>
  private readonly log: Logger
  private readonly targets = new Map<string, Target>()
  private readonly minDelayMs: number
  private readonly maxDelayMs: number
  private readonly identifyCheckMs: number
  /** Bootstrap connections identified (weakly held: a closed connection is forgotten with it). */
  private identified = new WeakSet<Connection>()
  private running = false

  constructor (components: { libp2p: Libp2p<{ identify: Identify }>, logger: Logger }, init: BootstrapDialerInit) {
    this.libp2p = components.libp2p
    this.log = components.logger
    this.minDelayMs = init.minDelayMs ?? 250
    this.maxDelayMs = init.maxDelayMs ?? 30_000
    this.identifyCheckMs = init.identifyCheckMs ?? 10_000
    for (const { peerId, addr } of bootstrapPeers(init.peers)) {
      if (peerId.equals(this.libp2p.peerId)) continue // a bootstrap node lists itself
      this.targets.set(peerId.toString(), { peerId, addr, attempt: 0 })
    }
    this.onDisconnect = this.onDisconnect.bind(this)
    this.onIdentify = this.onIdentify.bind(this)
  }

  async start (): Promise<void> {
    this.running = true
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
    for (const target of this.targets.values()) {
      await this.libp2p.peerStore.merge(target.peerId, { multiaddrs: [target.addr], tags: { [KEEP_ALIVE]: { value: 1 } } })
      this.schedule(target, 0)
    }
  }

  async stop (): Promise<void> {
    this.running = false
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
    for (const target of this.targets.values()) clearTimeout(target.timer)
    this.identified = new WeakSet()
  }

  /** Resolves once at least one bootstrap peer is connected (or there are none). */
  async waitForAny (signal?: AbortSignal): Promise<void> {
    if (this.targets.size === 0) return
    while (![...this.targets.values()].some(t => this.libp2p.getConnections(t.peerId).length > 0)) {
      signal?.throwIfAborted()
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  private schedule (target: Target, delayMs: number): void {
    clearTimeout(target.timer)
    target.timer = setTimeout(() => { void this.dial(target) }, delayMs)
    target.timer.unref()
  }

  private async dial (target: Target): Promise<void> {
    if (!this.running || this.libp2p.getConnections(target.peerId).length > 0) return
    try {
      const connection = await this.libp2p.dial(target.addr, { signal: AbortSignal.timeout(10_000) })
      target.attempt = 0
      this.log.info({ peer: target.peerId.toString() }, 'connected to bootstrap peer')
      this.checkIdentified(connection, 0, this.identifyCheckMs)
    } catch (err) {
      target.attempt++
      const delay = this.backoff(target.attempt)
      // The first failures are normal while a network starts; say so once it persists.
      const level = target.attempt === 5 ? 'warn' : 'debug'
      this.log[level]({ peer: target.peerId.toString(), attempt: target.attempt, retryMs: delay, err: (err as Error).message }, 'bootstrap dial failed')
      if (this.running) this.schedule(target, delay)
    }
  }

  /** The wait after `failures` in a row: doubling from `minDelayMs`, capped at `maxDelayMs`. */
  private backoff (failures: number): number {
    return Math.min(this.maxDelayMs, this.minDelayMs * 2 ** Math.min(failures, 16))
  }

  private checkIdentified (connection: Connection, tries: number, delayMs: number): void {
    setTimeout(() => { void this.reidentify(connection, tries) }, delayMs).unref()
  }

  private async reidentify (connection: Connection, tries: number): Promise<void> {
    if (this.identified.has(connection) || !this.running || connection.status !== 'open') return
    try {
      await this.libp2p.services.identify.identify(connection, { signal: AbortSignal.timeout(this.identifyCheckMs) })
      this.log.info({ peer: connection.remotePeer.toString(), tries: tries + 1 }, 'bootstrap peer identified again (its first identify failed)')
    } catch (err) {
      const level = tries + 1 >= MAX_REIDENTIFY ? 'warn' : 'debug'
      this.log[level]({ peer: connection.remotePeer.toString(), tries: tries + 1, err: (err as Error).message }, 'bootstrap peer not identified')
      if (tries + 1 < MAX_REIDENTIFY) this.checkIdentified(connection, tries + 1, this.backoff(tries + 3))
      else await connection.close().catch(() => {})
    }
  }

  private onIdentify (evt: CustomEvent<IdentifyResult>): void {
    if (this.targets.has(evt.detail.peerId.toString())) this.identified.add(evt.detail.connection)
  }

  private onDisconnect (evt: CustomEvent<PeerId>): void {
    const target = this.targets.get(evt.detail.toString())
    if (target != null && this.running) this.schedule(target, this.minDelayMs)
  }
}
