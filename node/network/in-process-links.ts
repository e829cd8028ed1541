// Connections between libp2p nodes of one process, kept off the kernel.
//
// Why: the simulator's shards (sim/shard.ts) run hundreds of nodes per process and join the
// processes over loopback TCP, so a frame between two nodes of the same process went through
// writev, the kernel and the socket's read path for bytes that never leave the process (writev
// alone was 6.5 % of a 300-node worker's busy time). The design is
// the memory transport inside a process; these links are that, under the nodes' TCP addresses,
// so one node is dialled in memory by a neighbour in its own process and over TCP by the others.
// `npm run bench -- links`: a 300-byte round trip costs 0.71× the CPU of loopback TCP, a kad-dht
// query among 20 servers 0.93× (its cost is mostly Noise handshakes and the DHT itself).
//
// How: `inProcessTcp` wraps @libp2p/tcp. Its listener registers each TCP address it listens on
// in an `InProcessLinks` registry (one per process); a dial to a registered address becomes a
// pair of in-memory connections, upgraded as TCP's are (Noise, Yamux): only the kernel's part
// is skipped. Any other address is dialled over TCP. Bytes cross on the next turn of the event
// loop (setImmediate), several writes in one delivery, as a socket's reads coalesce them; there
// is no flow control, as on @libp2p/memory. Unlike TCP's sockets these links have no idle
// timeout: Yamux's keep-alive (and the connection monitor, where it runs) close dead links.
//
// Unencrypted by default (libp2p's `skipEncryption`, with each end's peer id taken from the
// registry): both ends are nodes of this process, so Noise there proves nothing a real network
// would need, while Noise on all of a worker's links was a quarter of a 500-node simulator
// worker's busy time (@libp2p/noise 9.8 % inclusive of its samples, 64 % of them idle;
// sim/README.md, stop 25). A dial whose address names another peer than the one listening
// there fails, as Noise's handshake would make it. Links to the simulator's other processes
// (loopback TCP) go unencrypted too, by libp2p's plaintext exchange (`crossProcessPlaintext`,
// used by libp2p.ts): the same argument, one process further; Noise on them was 13–15 % of a
// 1,000-node worker's samples (sim/README.md, stop 29). `new InProcessLinks({ noise: true })`
// keeps Noise on every link (the simulator's --link-noise). And where the simulator joined this
// process to another by a trunk (`attach`, link-trunk.ts), a dial to a node listening there is
// a channel of that one socket, not a TCP connection: the same link, minus a descriptor in each
// process. The plaintext exchange is then left for dials before the trunks are joined.
import { StreamResetError, serviceCapabilities, transportSymbol } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp, type TCPOptions } from '@libp2p/tcp'
import { AbstractMultiaddrConnection, type AbstractMultiaddrConnectionInit, type SendResult } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { Uint8ArrayList } from 'uint8arraylist'
import { LinkTrunk } from './link-trunk.js'
import type {
  AbortOptions, ComponentLogger, Connection, CreateListenerOptions, DialTransportOptions, Listener, ListenerEvents,
  MultiaddrConnection, PeerId, Transport, Upgrader
} from '@libp2p/interface'
import type { Socket } from 'node:net'

/** Accepts one inbound connection (the listener's upgrade) from the node `dialer`. */
type Accept = (maConn: MultiaddrConnection, dialer: PeerId) => void

/** A listening node of this process: how to hand it a link, and who it is. */
interface Listening { accept: Accept, peer: PeerId }

/** A listening node of another of the simulator's processes, reached through the trunk to it. */
interface Trunked { trunk: LinkTrunk, peer: PeerId }

/**
 * The TCP addresses this process's nodes listen on, each with its listener. One registry per
 * process; every node of the process is given the same one.
 */
export class InProcessLinks {
  private readonly listeners = new Map<string, Listening>()
  private readonly trunked = new Map<string, Trunked>()
  private readonly trunks = new Set<LinkTrunk>()
  /** Source ports for the inbound side's remote address, as a kernel's ephemeral ports would be. */
  private nextPort = 32768
  /** Links opened in memory (the simulator reports it). */
  opened = 0
  /** Whether the links run Noise as TCP connections do (default: no encryption, see above). */
  readonly noise: boolean

  constructor (init: { noise?: boolean } = {}) {
    this.noise = init.noise === true
  }

  /**
   * Whether this process's nodes offer libp2p's plaintext exchange before Noise on their TCP
   * connections. Only nodes given a registry (the simulator's) do, so every such connection is
   * between two of the simulator's processes on loopback; the exchange still checks that the
   * key the remote sends is the peer id a dial named. A node without plaintext gets Noise.
   */
  get crossProcessPlaintext (): boolean { return !this.noise }

  register (address: string, accept: Accept, peer: PeerId): void {
    this.listeners.set(address, { accept, peer })
    for (const trunk of this.trunks) trunk.announce(address, peer.toString())
  }

  unregister (address: string): void {
    if (!this.listeners.delete(address)) return
    for (const trunk of this.trunks) trunk.withdraw(address)
  }

  lookup (address: string): Listening | undefined { return this.listeners.get(address) }
  /** The trunk to the process whose node listens at `address`, if another process's does. */
  lookupTrunked (address: string): Trunked | undefined { return this.trunked.get(address) }

  /**
   * Joins this process's links to another process's over `socket` (link-trunk.ts): from now on
   * a dial to one of its nodes is a channel of the trunk, not a TCP connection of its own. Each
   * side tells the other where its nodes listen, now and as they come and go. `initiator`: this
   * side connected the socket.
   */
  attach (socket: Socket, initiator: boolean): LinkTrunk {
    const trunk: LinkTrunk = new LinkTrunk(socket, initiator, {
      accept: (open, makeEnd) => {
        let dialled: Multiaddr
        let dialer: PeerId
        try { dialled = multiaddr(open.addr); dialer = peerIdFromString(open.dialer) } catch { return false }
        const key = tcpAddressKey(dialled)
        const listening = key != null ? this.listeners.get(key) : undefined
        if (listening == null) return false
        listening.accept(makeEnd(this.sourceAddress(dialled)), dialer)
        return true
      },
      listening: (address, peer) => { this.trunked.set(address, { trunk, peer: peerIdFromString(peer) }) },
      gone: address => { if (this.trunked.get(address)?.trunk === trunk) this.trunked.delete(address) },
      closed: () => {
        this.trunks.delete(trunk)
        for (const [address, t] of this.trunked) if (t.trunk === trunk) this.trunked.delete(address)
      }
    })
    this.trunks.add(trunk)
    for (const [address, l] of this.listeners) trunk.announce(address, l.peer.toString())
    return trunk
  }

  /** Closes every trunk (their links abort). */
  closeTrunks (): void { for (const trunk of this.trunks) trunk.close() }

  /** Links opened over trunks, either way. */
  get openedAcross (): number { return [...this.trunks].reduce((n, t) => n + t.opened, 0) }

  /** The dialled address's host with the next ephemeral-like port: where an inbound link seems to come from. */
  sourceAddress (dialled: Multiaddr): Multiaddr {
    const host = dialled.getComponents()[0]
    const port = this.nextPort
    this.nextPort = this.nextPort >= 60999 ? 32768 : this.nextPort + 1
    return multiaddr(`/${host?.name ?? 'ip4'}/${host?.value ?? '127.0.0.1'}/tcp/${port}`)
  }
}

/** `host:port` of a TCP multiaddr (any /p2p suffix ignored), or undefined for another kind. */
export function tcpAddressKey (ma: Multiaddr): string | undefined {
  const parts = ma.getComponents()
  const host = parts[0]
  const port = parts[1]
  if (host == null || port == null || port.name !== 'tcp' || (host.name !== 'ip4' && host.name !== 'ip6')) return undefined
  return `${host.value ?? ''}:${port.value ?? ''}`
}

interface LinkEndInit extends Omit<AbstractMultiaddrConnectionInit, 'name' | 'stream'> {}

/** One end of an in-memory link. */
class LinkEnd extends AbstractMultiaddrConnection {
  peer: LinkEnd | undefined
  private pending: Array<Uint8Array | Uint8ArrayList> = []
  private flushScheduled = false
  /** The end is over: nothing more is delivered to or from it. */
  private finished = false

  constructor (init: LinkEndInit) {
    super(init)
  }

  sendData (data: Uint8ArrayList): SendResult {
    // The buffers are handed over as to a socket's write: libp2p does not reuse one it has sent.
    for (const buf of data) this.pending.push(buf)
    this.scheduleFlush()
    return { sentBytes: data.byteLength, canSendMore: true }
  }

  private scheduleFlush (): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => { this.flush() })
  }

  private flush (): void {
    this.flushScheduled = false
    const bufs = this.pending
    this.pending = []
    const peer = this.peer
    if (peer == null || peer.finished || bufs.length === 0) return
    // One delivery for everything written since the last: a Noise frame is written in parts
    // (length, ciphertext, tag), and each delivery is one pass through the reader's stack.
    peer.onData(bufs.length === 1 ? bufs[0] as Uint8Array | Uint8ArrayList : new Uint8ArrayList(...bufs))
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    // Like a socket's end: what was written arrives first (its delivery is queued ahead of this
    // one, setImmediate runs in order), then the remote sees the close.
    const peer = this.peer
    this.finished = true
    if (peer != null && !peer.finished) {
      setImmediate(() => {
        peer.finished = true
        peer.onTransportClosed()
      })
    }
  }

  sendReset (): void {
    this.pending = []
    const peer = this.peer
    this.finished = true
    if (peer != null && !peer.finished) {
      setImmediate(() => {
        peer.finished = true
        peer.abort(new StreamResetError('in-process link reset by the remote end'))
      })
    }
  }

  sendPause (): void {
    // No flow control (as on @libp2p/memory): a paused reader buffers up to its own limit.
  }

  sendResume (): void {}
}

/** A connected pair: [dialer's end, listener's end]. */
function linkPair (dialled: Multiaddr, source: Multiaddr, logger: ComponentLogger): [LinkEnd, LinkEnd] {
  const log = logger.forComponent('kaisar:in-process-link')
  const outbound = new LinkEnd({ remoteAddr: dialled, direction: 'outbound', log: log.newScope('outbound') })
  const inbound = new LinkEnd({ remoteAddr: source, direction: 'inbound', log: log.newScope('inbound') })
  outbound.peer = inbound
  inbound.peer = outbound
  return [outbound, inbound]
}

/** A TCP listener that also registers its addresses for in-process dials. */
class InProcessTcpListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  private readonly registered: string[] = []
  private readonly shutdown = new AbortController()

  constructor (private readonly tcpListener: Listener, private readonly links: InProcessLinks, private readonly upgrader: Upgrader, private readonly self: PeerId) {
    super()
    for (const type of ['listening', 'error', 'close'] as const) {
      tcpListener.addEventListener(type, (evt) => { this.safeDispatchEvent(type, { detail: (evt as CustomEvent).detail }) })
    }
  }

  async listen (ma: Multiaddr): Promise<void> {
    await this.tcpListener.listen(ma)
    for (const addr of this.tcpListener.getAddrs()) {
      const key = tcpAddressKey(addr)
      if (key == null) continue
      this.links.register(key, (maConn, dialer) => {
        const signal = this.shutdown.signal
        const upgrade = this.links.noise
          ? this.upgrader.upgradeInbound(maConn, { signal })
          : this.upgrader.upgradeInbound(maConn, { signal, skipEncryption: true, remotePeer: dialer })
        upgrade.catch((err: Error) => { maConn.abort(err) })
      }, this.self)
      this.registered.push(key)
    }
  }

  getAddrs (): Multiaddr[] { return this.tcpListener.getAddrs() }

  updateAnnounceAddrs (addrs: Multiaddr[]): void { this.tcpListener.updateAnnounceAddrs(addrs) }

  async close (): Promise<void> {
    for (const key of this.registered.splice(0)) this.links.unregister(key)
    this.shutdown.abort()
    await this.tcpListener.close()
  }
}

/** What libp2p gives every transport; @libp2p/tcp's own type leaves out the node's peer id, which a link needs. */
type TcpComponents = Parameters<ReturnType<typeof tcp>>[0] & { peerId: PeerId }

class InProcessTcp implements Transport {
  readonly [transportSymbol] = true
  readonly [Symbol.toStringTag] = '@libp2p/tcp'
  readonly [serviceCapabilities]: string[] = ['@libp2p/transport']

  constructor (private readonly components: TcpComponents, private readonly tcpTransport: Transport, private readonly links: InProcessLinks) {}

  readonly listenFilter = (addrs: Multiaddr[]): Multiaddr[] => this.tcpTransport.listenFilter(addrs)
  readonly dialFilter = (addrs: Multiaddr[]): Multiaddr[] => this.tcpTransport.dialFilter(addrs)

  async dial (ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    const key = tcpAddressKey(ma)
    const listening = key != null ? this.links.lookup(key) : undefined
    const trunked = key != null && listening == null ? this.links.lookupTrunked(key) : undefined
    const listener = listening?.peer ?? trunked?.peer
    if (listener == null) return await this.tcpTransport.dial(ma, options)
    options.signal.throwIfAborted()
    const named = ma.getComponents().findLast(c => c.name === 'p2p')?.value
    if (!this.links.noise && named != null && named !== listener.toString()) {
      throw new Error(`in-process link to ${key ?? ''}: ${listener.toString()} listens there, not ${named}`)
    }
    let outbound: MultiaddrConnection
    if (listening != null) {
      const [out, inbound] = linkPair(ma, this.links.sourceAddress(ma), this.components.logger)
      this.links.opened++
      listening.accept(inbound, this.components.peerId)
      outbound = out
    } else {
      outbound = (trunked as Trunked).trunk.dial({ addr: ma.toString(), dialer: this.components.peerId.toString() }, ma)
    }
    try {
      return this.links.noise
        ? await options.upgrader.upgradeOutbound(outbound, options)
        : await options.upgrader.upgradeOutbound(outbound, { ...options, skipEncryption: true, remotePeer: listener })
    } catch (err) {
      outbound.abort(err as Error)
      throw err
    }
  }

  createListener (options: CreateListenerOptions): Listener {
    return new InProcessTcpListener(this.tcpTransport.createListener(options), this.links, options.upgrader, this.components.peerId)
  }
}

/**
 * @libp2p/tcp, with dials to another node of this process (an address in `links`) kept in
 * memory. Everything else is TCP's: listening, addresses, dials to other processes.
 */
export function inProcessTcp (links: InProcessLinks, options: TCPOptions = {}): (components: TcpComponents) => Transport {
  const tcpFactory = tcp(options)
  return (components) => new InProcessTcp(components, tcpFactory(components), links)
}
