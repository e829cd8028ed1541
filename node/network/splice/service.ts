// The node's side of spliced relaying (protocols/splice/messages.ts): a libp2p service, because
// it hands sockets to libp2p's upgrader, which only services are given.
//  - A lease holder's node asks the gateway that relays a provider for a splice, connects to
//    the gateway's splice port with its ticket and runs the outbound upgrade (Noise XX with
//    the provider's peer id expected, then Yamux) over the socket: `connect()`.
//  - A provider behind that gateway takes the gateway's offer, connects to the same port with
//    its own ticket and runs the inbound upgrade: `acceptOffers()`.
// The result is an ordinary, unlimited libp2p connection to the provider, which libp2p prefers
// to the relayed one for every new stream (it is not a /p2p-circuit address).
//  - Or, for one TCP connection of the user's, a dedicated tunnel (protocols/tunnel/dedicated.ts):
//    `openDedicatedTunnel()` on the user's node, and on the provider the offers in mode 'tunnel'
//    go to the handler `handleDedicatedTunnels()` set (the lease service, which checks the token).
import net from 'node:net'
import { noise } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { PROTOCOLS } from '../../../protocols/ids.js'
import { spliceGrantSchema, spliceOfferSchema, TICKET_BYTES, type SpliceGrant, type SpliceMode } from '../../../protocols/splice/messages.js'
import { DEDICATED_HEADER_WAIT_MS, DEDICATED_TUNNEL_PROLOGUE } from '../../../protocols/tunnel/dedicated.js'
import { registerReqResp, RemoteError, request, type ProtocolHandlers } from '../reqresp.js'
import { raceSignal } from '../../abort.js'
import { aesGcmCrypto } from '../noise-aesgcm.js'
import { answerDedicatedTunnel, handshakeDedicatedTunnel, type DialedTunnel, type HandshakenTunnel, type InboundDedicatedTunnel } from './dedicated-tunnel.js'
import { SocketMultiaddrConnection } from './socket-connection.js'
import type { Logger as NodeLogger } from '../../log.js'
import type { AbortOptions, ComponentLogger, Connection, ConnectionEncrypter, Logger, PeerId, PrivateKey, Startable, Stream, Upgrader } from '@libp2p/interface'

export interface SpliceComponents {
  peerId: PeerId
  privateKey: PrivateKey
  upgrader: Upgrader
  connectionManager: {
    getConnections: (peer?: PeerId) => Connection[]
    openStream: (peer: PeerId | Multiaddr, protocol: string, options?: AbortOptions & { runOnLimitedConnection?: boolean, maxOutboundStreams?: number }) => Promise<Stream>
  }
  registrar: ProtocolHandlers & { unhandle: (protocol: string) => Promise<void> }
  peerStore: { get: (peer: PeerId) => Promise<{ addresses: Array<{ multiaddr: Multiaddr }> }> }
  logger: ComponentLogger
}

export interface SpliceInit {
  /** Options of the sockets to gateways (the node's TCP tuning: noDelay, high-water mark). */
  socketOptions?: net.SocketConstructorOpts & { noDelay?: boolean, highWaterMark?: number }
}

/** A gateway that failed a splice is asked again only after this long (its circuit relay still works). */
const RETRY_AFTER_MS = 60_000
/** ... and one that refused it, after this long. */
const REFUSED_RETRY_MS = 5_000
/** Offers a provider is connecting back for at once (a gateway cannot make it open sockets without bound). */
const MAX_PENDING_OFFERS = 32
const CONNECT_TIMEOUT_MS = 10_000
/** Dedicated tunnels one user may hold handshaken without a header (spares), and all users together. */
const MAX_SPARES_PER_PEER = 4
const MAX_SPARES = 256

/** The relay's peer id in a relayed address (`…/p2p/RELAY/p2p-circuit/…`), if it is one. */
export function relayPeerOf (ma: Multiaddr): string | undefined {
  const parts = ma.getComponents()
  const circuit = parts.findIndex(c => c.name === 'p2p-circuit')
  const relay = circuit > 0 ? parts[circuit - 1] : undefined
  return relay?.name === 'p2p' ? relay.value : undefined
}

/** The IP a direct connection's remote address names, if any. */
function hostOf (conn: Connection): { host: string, family: 'ip4' | 'ip6' } | undefined {
  const ip = conn.remoteAddr.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')
  return ip?.value != null ? { host: ip.value, family: ip.name as 'ip4' | 'ip6' } : undefined
}

export class SpliceService implements Startable {
  private readonly log: Logger
  private readonly inFlight = new Map<string, Promise<Connection>>()
  /** Spliced connections this node opened (id → gateway), for `via()`. */
  private readonly splicedVia = new Map<string, string>()
  private readonly refusedUntil = new Map<string, number>()
  private readonly shutdown = new AbortController()
  private servesOffers = false
  private pendingOffers = 0
  private tunnelHandler?: (tunnel: InboundDedicatedTunnel) => Promise<void>
  /** Dedicated tunnels handshaken and awaiting their header (spares), per user and in all. */
  private readonly awaitingHeader = new Map<string, number>()
  private awaitingHeaderTotal = 0
  private tunnelEncrypter?: ConnectionEncrypter

  constructor (private readonly components: SpliceComponents, private readonly init: SpliceInit = {}) {
    this.log = components.logger.forComponent('kaisar:splice')
  }

  readonly [Symbol.toStringTag] = 'kaisar/splice'

  start (): void {}

  async stop (): Promise<void> {
    this.shutdown.abort(new Error('splice service stopped'))
    if (this.servesOffers) await this.components.registrar.unhandle(PROTOCOLS.spliceOffer)
  }

  /**
   * A direct (unlimited, non-circuit) connection to `provider`: one already open, or a new
   * spliced one through the gateway that relays the open relayed connection to it. Undefined
   * when there is neither (no relayed connection, or its gateway does not splice for us).
   */
  async connect (provider: PeerId, options: AbortOptions = {}): Promise<Connection | undefined> {
    const open = this.components.connectionManager.getConnections(provider).filter(c => c.status === 'open')
    const direct = open.find(c => c.direct && c.limits == null)
    if (direct != null) return direct
    const gateway = await this.gatewayTo(provider, 'connection')
    if (gateway == null) return undefined
    const key = provider.toString()
    let attempt = this.inFlight.get(key)
    if (attempt == null) {
      // Shared by every caller meanwhile: bounded by its own timeout, not by the first caller's signal.
      attempt = this.splice(gateway, provider).finally(() => this.inFlight.delete(key))
      this.inFlight.set(key, attempt)
    }
    try {
      return await (options.signal != null ? raceSignal(attempt, options.signal) : attempt)
    } catch (err) {
      if (options.signal?.aborted === true) return undefined
      this.failed(gateway, provider, 'connection', err as Error)
      return undefined
    }
  }

  /**
   * A dedicated tunnel to `port` of the lease `token` opens, through the gateway that relays
   * `provider`; undefined when there is no such gateway or it does not splice for us (the caller
   * then opens a /kaisar/tunnel/1.0.0 stream). A provider's refusal is thrown
   * (TunnelRefusedError), as the stream's would be.
   */
  async openDedicatedTunnel (provider: PeerId, token: string, port: number, options: AbortOptions = {}): Promise<DialedTunnel | undefined> {
    const tunnel = await this.prepareDedicatedTunnel(provider, options)
    return await tunnel?.open(token, port, options)
  }

  /**
   * The first half of `openDedicatedTunnel`: the splice and the handshake, without the header
   * (a spare, opened ahead of use; the provider waits DEDICATED_HEADER_WAIT_MS for its header).
   */
  async prepareDedicatedTunnel (provider: PeerId, options: AbortOptions = {}): Promise<HandshakenTunnel | undefined> {
    const open = this.components.connectionManager.getConnections(provider).filter(c => c.status === 'open')
    // Reached directly: no gateway to splice through; the caller opens a stream on that connection.
    if (open.some(c => c.direct && c.limits == null && !this.splicedVia.has(c.id))) return undefined
    const gateway = await this.gatewayTo(provider, 'tunnel')
    if (gateway == null) return undefined
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(CONNECT_TIMEOUT_MS), ...(options.signal != null ? [options.signal] : [])])
    let joined
    try {
      joined = await this.join(gateway, provider, 'tunnel', signal)
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      this.failed(gateway, provider, 'tunnel', err as Error)
      return undefined
    }
    const tunnel = await handshakeDedicatedTunnel(this.encrypter(), { socket: joined.socket, remoteAddr: joined.remoteAddr, log: this.log.newScope('tunnel'), provider }, { signal })
    this.log('dedicated tunnel to %p via %s', provider, gateway)
    return tunnel
  }

  /** Provider: where offers of dedicated tunnels go (without one, or after `undefined`, they are refused). */
  handleDedicatedTunnels (handler: ((tunnel: InboundDedicatedTunnel) => Promise<void>) | undefined): void {
    this.tunnelHandler = handler
  }

  /** Counts a dedicated tunnel awaiting its header against its user's spares; throws past the bounds. */
  private waitForHeader (peer: PeerId): () => void {
    const key = peer.toString()
    const mine = this.awaitingHeader.get(key) ?? 0
    if (mine >= MAX_SPARES_PER_PEER) throw new Error(`${key} holds ${mine} tunnels without a header already`)
    if (this.awaitingHeaderTotal >= MAX_SPARES) throw new Error(`${this.awaitingHeaderTotal} tunnels without a header already`)
    this.awaitingHeader.set(key, mine + 1)
    this.awaitingHeaderTotal++
    let released = false
    return () => {
      if (released) return
      released = true
      this.awaitingHeaderTotal--
      const left = (this.awaitingHeader.get(key) ?? 1) - 1
      if (left > 0) this.awaitingHeader.set(key, left)
      else this.awaitingHeader.delete(key)
    }
  }

  /** The gateway relaying `provider`, unless it failed a splice of this mode lately. */
  private async gatewayTo (provider: PeerId, mode: SpliceMode): Promise<string | undefined> {
    const open = this.components.connectionManager.getConnections(provider).filter(c => c.status === 'open')
    const gateway = open.map(c => relayPeerOf(c.remoteAddr)).find(g => g != null) ?? await this.onlyRelay(provider)
    if (gateway == null || (this.refusedUntil.get(`${gateway}/${provider.toString()}/${mode}`) ?? 0) > Date.now()) return undefined
    return gateway
  }

  /** Remembers a failed splice, so that the next ones take the slower path at once for a while. */
  private failed (gateway: string, provider: PeerId, mode: SpliceMode, err: Error): void {
    // No grant yet (the provider sends it as the lease starts) is asked again soon; a gateway
    // that does not splice, or a splice that failed (a firewalled splice port), only after a while.
    if (this.refusedUntil.size > 1024) for (const [k, until] of this.refusedUntil) if (until <= Date.now()) this.refusedUntil.delete(k)
    const soon = err instanceof RemoteError && (err.code === 'NOT_ALLOWED' || err.code === 'NOT_CONNECTED' || err.code === 'EXPIRED')
    this.refusedUntil.set(`${gateway}/${provider.toString()}/${mode}`, Date.now() + (soon ? REFUSED_RETRY_MS : RETRY_AFTER_MS))
    this.log('splice (%s) to %p via %s failed, using the circuit relay: %s', mode, provider, gateway, err.message)
  }

  /** Noise for dedicated tunnels: AES-256-GCM, the tunnel protocol as the prologue. */
  private encrypter (): ConnectionEncrypter {
    this.tunnelEncrypter ??= noise({ crypto: aesGcmCrypto(defaultCrypto), prologueBytes: DEDICATED_TUNNEL_PROLOGUE })(this.components)
    return this.tunnelEncrypter
  }

  /** How bytes to `provider` travel now: the best open connection's path (what `connect` tells the user). */
  pathTo (provider: PeerId): { path: 'direct' | 'spliced' | 'relayed', gateway?: string } | undefined {
    const open = this.components.connectionManager.getConnections(provider).filter(c => c.status === 'open')
    const direct = open.find(c => c.direct && c.limits == null)
    if (direct != null) {
      const gateway = this.splicedVia.get(direct.id)
      return gateway != null ? { path: 'spliced', gateway } : { path: 'direct' }
    }
    const relayed = open.map(c => relayPeerOf(c.remoteAddr)).find(g => g != null)
    return relayed != null ? { path: 'relayed', gateway: relayed } : undefined
  }

  /** Provider: answer splice offers from the gateways `from` accepts (those relaying this node). */
  async acceptOffers (from: (peer: PeerId) => boolean, logger: NodeLogger): Promise<void> {
    this.servesOffers = true
    await registerReqResp(this.components.registrar, {
      protocol: PROTOCOLS.spliceOffer,
      schema: spliceOfferSchema,
      logger,
      timeoutMs: CONNECT_TIMEOUT_MS,
      handle: async (offer, gateway) => {
        if (!from(gateway)) throw new RemoteError(PROTOCOLS.spliceOffer, 'NOT_MY_RELAY', 'offers are taken from this provider\'s relays only')
        if (this.pendingOffers >= MAX_PENDING_OFFERS) throw new RemoteError(PROTOCOLS.spliceOffer, 'BUSY', `at most ${MAX_PENDING_OFFERS} splices pending`)
        // Connect back to the address this gateway's connection comes from, never to one the
        // offer names: an offer cannot point the provider at another host.
        const at = this.components.connectionManager.getConnections(gateway).filter(c => c.status === 'open' && c.direct).map(hostOf).find(h => h != null)
        if (at == null) throw new RemoteError(PROTOCOLS.spliceOffer, 'NO_DIRECT_CONNECTION', 'no direct connection to this gateway')
        const handler = this.tunnelHandler
        if (offer.mode === 'tunnel' && handler == null) throw new RemoteError(PROTOCOLS.spliceOffer, 'NO_TUNNELS', 'this node serves no dedicated tunnels')
        this.pendingOffers++
        try {
          const socket = await this.dialGateway(at.host, offer.port, offer.ticket, AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(CONNECT_TIMEOUT_MS)]))
          const remoteAddr = multiaddr(`/${at.family}/${at.host}/tcp/${offer.port}`)
          if (offer.mode === 'tunnel' && handler != null) {
            // Not awaited either. The offer counts as pending until the handshake is done; then,
            // while the header is awaited (a spare), it counts among its user's spares.
            let pending = true
            const settle = (): void => { if (pending) { pending = false; this.pendingOffers-- } }
            void answerDedicatedTunnel(this.encrypter(), { socket, remoteAddr, log: this.log.newScope('tunnel') }, {
              handshakeSignal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(CONNECT_TIMEOUT_MS)]),
              headerSignal: () => AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(DEDICATED_HEADER_WAIT_MS)]),
              waitForHeader: peer => { settle(); return this.waitForHeader(peer) }
            })
              .finally(settle)
              .then(handler, err => { this.log('dedicated tunnel failed before its header: %s', (err as Error).message) })
              .catch(err => { this.log.error('dedicated tunnel handler failed: %s', (err as Error).message) })
            return { ok: true }
          }
          const maConn = new SocketMultiaddrConnection({ socket, direction: 'inbound', remoteAddr, log: this.log.newScope('inbound') })
          const signal = this.components.upgrader.createInboundAbortSignal(this.shutdown.signal)
          // Not awaited: the gateway pairs our socket with the user's only after this answer.
          void this.components.upgrader.upgradeInbound(maConn, { signal })
            .catch(err => { this.log('inbound spliced upgrade failed: %s', (err as Error).message); maConn.abort(err as Error) })
            .finally(() => { signal.clear(); this.pendingOffers-- })
          return { ok: true }
        } catch (err) {
          this.pendingOffers--
          throw err
        }
      }
    })
  }

  /** The gateway relaying `provider` when every address known for it goes through that one relay. */
  private async onlyRelay (provider: PeerId): Promise<string | undefined> {
    const addresses = await this.components.peerStore.get(provider).then(p => p.addresses.map(a => a.multiaddr), () => [])
    const relays = new Set(addresses.map(relayPeerOf))
    const [relay] = relays
    return relays.size === 1 ? relay : undefined
  }

  /** Asks `gateway` for a splice to `provider` and joins it: a socket to the splice port, ticket sent. */
  private async join (gateway: string, provider: PeerId, mode: SpliceMode, signal: AbortSignal): Promise<{ socket: net.Socket, remoteAddr: Multiaddr }> {
    const gatewayConn = this.components.connectionManager.getConnections().find(c => c.remotePeer.toString() === gateway && c.status === 'open' && c.direct)
    const at = gatewayConn != null ? hostOf(gatewayConn) : undefined
    if (gatewayConn == null || at == null) throw new Error(`no direct connection to gateway ${gateway}`)
    const dialer = { dialProtocol: async (peer: PeerId | Multiaddr, protocol: string, opts?: AbortOptions) => await this.components.connectionManager.openStream(peer, protocol, opts) }
    // A gateway from before modes knows only connections (its schema is strict): ask it as before.
    const req = mode === 'connection' ? { provider: provider.toString() } : { provider: provider.toString(), mode }
    const grant: SpliceGrant = spliceGrantSchema.parse(await request(dialer, gatewayConn.remotePeer, PROTOCOLS.splice, req, { signal, timeoutMs: CONNECT_TIMEOUT_MS }))
    const socket = await this.dialGateway(at.host, grant.port, grant.ticket, signal)
    return { socket, remoteAddr: multiaddr(`/${at.family}/${at.host}/tcp/${grant.port}/p2p/${provider.toString()}`) }
  }

  private async splice (gateway: string, provider: PeerId): Promise<Connection> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(CONNECT_TIMEOUT_MS)])
    const { socket, remoteAddr } = await this.join(gateway, provider, 'connection', signal)
    const maConn = new SocketMultiaddrConnection({ socket, direction: 'outbound', remoteAddr, log: this.log.newScope('outbound') })
    try {
      const conn = await this.components.upgrader.upgradeOutbound(maConn, { signal })
      this.splicedVia.set(conn.id, gateway)
      maConn.addEventListener('close', () => { this.splicedVia.delete(conn.id) }, { once: true })
      this.log('spliced connection to %p via %s', provider, gateway)
      return conn
    } catch (err) {
      maConn.abort(err as Error)
      throw err
    }
  }

  /** A socket to the gateway's splice port with `ticket` written first. */
  private async dialGateway (host: string, port: number, ticket: string, signal: AbortSignal): Promise<net.Socket> {
    const socket = net.connect({ ...this.init.socketOptions, host, port })
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { reject(signal.reason as Error) }
        signal.addEventListener('abort', onAbort, { once: true })
        socket.once('connect', () => { signal.removeEventListener('abort', onAbort); resolve() })
        socket.once('error', err => { signal.removeEventListener('abort', onAbort); reject(err) })
      })
    } catch (err) {
      socket.destroy()
      throw err
    }
    const bytes = Buffer.from(ticket, 'hex')
    if (bytes.byteLength !== TICKET_BYTES) { socket.destroy(); throw new Error('bad ticket') }
    socket.write(bytes)
    return socket
  }
}

/** The service factory for createLibp2p's `services`. */
export function spliceService (init: SpliceInit = {}): (components: SpliceComponents) => SpliceService {
  return (components) => new SpliceService(components, init)
}
