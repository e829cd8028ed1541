// The gateway's spliced relay (protocols/splice/messages.ts): the fast path from a lease holder
// to a provider that only the gateway can reach. The gateway checks the holder against the
// provider's grants (the same RelayPolicy that lifts circuit relay limits), asks the provider
// to connect back with a ticket, hands the user the other ticket, and pairs the two sockets
// that arrive on its splice port with them. From then on it copies bytes and nothing else: it
// holds no key of the Noise session the two ends run over the splice, so it sees ciphertext only.
// What the ends run over it (a libp2p connection, or one dedicated tunnel: protocols/tunnel/
// dedicated.ts) is the request's `mode`, which the gateway passes on to the provider and
// otherwise ignores.
//
// Why not circuit relay v2 for bulk bytes: its relayed connection is a stream inside the
// gateway's own Noise + Yamux connections to each end, so every byte is encrypted and decrypted
// three times on its way (measured: 0.24× `ssh -L`, bench/TUNNEL.md). Circuit relay stays for
// everything else (ordering, probes) and as the fallback when a splice cannot be made.
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { PROTOCOLS } from '../../../protocols/ids.js'
import { spliceRequestSchema, TICKET_BYTES, type SpliceGrant, type SpliceMode } from '../../../protocols/splice/messages.js'
import { registerReqResp, RemoteError, request } from '../../network/reqresp.js'
import { spliceCopy } from './splice-copy.js'
import type { Logger } from '../../log.js'
import type { NodeMetrics } from '../../metrics/registry.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { Startable } from '@libp2p/interface'

export interface SpliceRelayInit {
  /** Where the splice port listens (users and providers connect to it). */
  host: string
  /** 0: any free port (told to each side in its ticket's message). */
  port: number
  /** How long a ticket waits for its socket, and a socket for its ticket. */
  ticketTimeoutMs?: number
  /** Splices waiting for their sockets at once. */
  maxPending?: number
}

/** Who may splice to whom: RelayPolicy (the providers' grants to their lease holders). */
export interface SplicePolicy {
  isAllowed: (holder: string, provider: string) => boolean
  onRevoke: (listener: (holder: string, provider: string) => void) => void
}

interface Side { socket: net.Socket, early: Buffer[], earlyBytes: number, onEarly?: (b: Buffer) => void, onLeave?: () => void }
interface Session { key: string, holder: string, provider: string, tickets: [string, string], sides: [Side | undefined, Side | undefined], timer?: NodeJS.Timeout, done: boolean }
interface Splice { holder: string, provider: string, sockets: [net.Socket, net.Socket] }

// allowHalfOpen: a FIN from one end is passed on (the copy ends the other socket after what it
// still buffers) while the other direction keeps flowing; the splice ends when both have closed.
const SOCKET_OPTIONS = { noDelay: true, highWaterMark: 1024 * 1024, allowHalfOpen: true }
/** A socket on the splice port must send its ticket this fast (anyone can connect to the port). */
const FIRST_BYTES_MS = 2_000
/** Sockets that have not sent a ticket yet, at once; and every socket the port holds. */
const MAX_UNPAIRED = 256
const MAX_SOCKETS = 4096
/**
 * Open splices per lease holder: a holder's node opens one per provider for its libp2p connection
 * and one per TCP connection of its applications for dedicated tunnels (a browser opens six or more).
 */
const MAX_ACTIVE_PER_HOLDER = 64
/** Splices of one holder waiting for their sockets at once (so one holder cannot take every pending place). */
const MAX_PENDING_PER_HOLDER = 16
/** What one side may send before its partner arrives (a Noise handshake message is < 1 KiB). */
const MAX_EARLY_BYTES = 64 * 1024
/** After one end closed, how long the other direction may still run. */
const HALF_CLOSED_GRACE_MS = 30_000
/** How often open splices are checked against the grants (an expired grant, a lost revoke). */
const SWEEP_MS = 30_000

export class SpliceRelay implements Startable {
  private server?: net.Server
  private sweeper?: NodeJS.Timeout
  /** ticket (hex) → its session and side (0 = holder, 1 = provider). Single use. */
  private readonly tickets = new Map<string, { session: Session, side: 0 | 1 }>()
  /**
   * Pending sessions: one per (holder, provider) for connections, where asking again replaces it;
   * for dedicated tunnels one per request (each is one TCP connection of the holder's).
   */
  private readonly pending = new Map<string, Session>()
  private readonly spliced = new Set<Splice>()
  /** Sockets accepted that have not sent their ticket yet. */
  private readonly unpaired = new Set<net.Socket>()
  private readonly ticketTimeoutMs: number
  private readonly maxPending: number

  constructor (private readonly c: { libp2p: KaisarLibp2p, policy: SplicePolicy, logger: Logger, metrics: NodeMetrics }, private readonly init: SpliceRelayInit) {
    this.ticketTimeoutMs = init.ticketTimeoutMs ?? 10_000
    this.maxPending = init.maxPending ?? 256
    c.policy.onRevoke((holder, provider) => { this.close(s => s.holder === holder && s.provider === provider) })
  }

  get port (): number {
    const address = this.server?.address()
    return address != null && typeof address === 'object' ? address.port : 0
  }

  /** Splices open now (holder, provider). */
  active (): Array<{ holder: string, provider: string }> {
    return [...this.spliced].map(s => ({ holder: s.holder, provider: s.provider }))
  }

  async start (): Promise<void> {
    const server = net.createServer(SOCKET_OPTIONS, socket => { this.accept(socket) })
    server.maxConnections = MAX_SOCKETS
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.init.port, this.init.host, () => { server.off('error', reject); resolve() })
    })
    // An accept that fails later (out of file descriptors) must not crash the node.
    server.on('error', err => { this.c.logger.warn({ err: err.message }, 'splice port error') })
    this.server = server
    this.sweeper = setInterval(() => { this.close(s => !this.c.policy.isAllowed(s.holder, s.provider)) }, SWEEP_MS)
    this.sweeper.unref()
    await registerReqResp(this.c.libp2p, {
      protocol: PROTOCOLS.splice,
      schema: spliceRequestSchema,
      logger: this.c.logger,
      timeoutMs: this.ticketTimeoutMs,
      onInvalid: reason => { this.c.metrics.splicesRefused.inc({ reason }) },
      handle: async (req, holder) => await this.open(req.provider, holder.toString(), req.mode ?? 'connection')
    })
    this.c.logger.info({ port: this.port }, 'splice relay listening')
  }

  async stop (): Promise<void> {
    clearInterval(this.sweeper)
    await this.c.libp2p.unhandle(PROTOCOLS.splice)
    this.close(() => true)
    for (const socket of this.unpaired) socket.destroy()
    for (const session of [...this.pending.values()]) this.expire(session)
    await new Promise<void>(resolve => { if (this.server == null) resolve(); else this.server.close(() => { resolve() }) })
  }

  private async open (provider: string, holder: string, mode: SpliceMode): Promise<SpliceGrant> {
    if (!this.c.policy.isAllowed(holder, provider)) return this.refuse('not-lease-holder', 'NOT_ALLOWED', 'this provider has granted no lease of yours through this gateway')
    let providerPeer
    try { providerPeer = peerIdFromString(provider) } catch { return this.refuse('invalid', 'INVALID', 'provider is not a peer id') }
    if (!this.c.libp2p.getConnections(providerPeer).some(c => c.status === 'open' && c.direct)) return this.refuse('provider-not-connected', 'NOT_CONNECTED', 'the provider is not connected to this gateway')
    const tickets: [string, string] = [randomBytes(TICKET_BYTES).toString('hex'), randomBytes(TICKET_BYTES).toString('hex')]
    const key = mode === 'connection' ? `${holder}/${provider}` : `${holder}/${provider}/${tickets[0]}`
    const previous = this.pending.get(key)
    if (previous != null) this.expire(previous)
    if (this.pending.size >= this.maxPending) return this.refuse('busy', 'BUSY', `at most ${this.maxPending} splices pending`)
    if ([...this.pending.values()].filter(s => s.holder === holder).length >= MAX_PENDING_PER_HOLDER) return this.refuse('holder-limit', 'TOO_MANY', `at most ${MAX_PENDING_PER_HOLDER} pending splices per lease holder`)
    if ([...this.spliced].filter(s => s.holder === holder).length >= MAX_ACTIVE_PER_HOLDER) return this.refuse('holder-limit', 'TOO_MANY', `at most ${MAX_ACTIVE_PER_HOLDER} open splices per lease holder`)
    const session: Session = { key, holder, provider, tickets, sides: [undefined, undefined], done: false }
    this.pending.set(key, session)
    this.tickets.set(tickets[0], { session, side: 0 })
    this.tickets.set(tickets[1], { session, side: 1 })
    try {
      // The mode only when it is not the default, so that a provider from before modes still takes connections.
      const offer = mode === 'connection' ? { port: this.port, ticket: tickets[1] } : { port: this.port, ticket: tickets[1], mode }
      await request(this.c.libp2p, providerPeer, PROTOCOLS.spliceOffer, offer, { timeoutMs: this.ticketTimeoutMs })
    } catch (err) {
      this.expire(session)
      return this.refuse('provider-refused', 'PROVIDER_REFUSED', `the provider did not take the splice: ${(err as Error).message}`)
    }
    // Withdrawn while the provider answered (a revoke, a newer request of the same holder).
    if (session.done) return this.refuse('expired', 'EXPIRED', 'the splice was withdrawn while the provider answered')
    // The holder's time to connect counts from now, not from before the provider's answer.
    session.timer = setTimeout(() => { this.expire(session) }, this.ticketTimeoutMs)
    return { port: this.port, ticket: tickets[0] }
  }

  private refuse (reason: string, code: string, message: string): never {
    this.c.metrics.splicesRefused.inc({ reason })
    this.c.logger.info({ reason }, 'splice refused')
    throw new RemoteError(PROTOCOLS.splice, code, message)
  }

  /** A socket on the splice port: its first TICKET_BYTES bytes name its splice and side. */
  private accept (socket: net.Socket): void {
    const drop = (reason: string): void => {
      this.c.metrics.splicesRefused.inc({ reason })
      this.unpaired.delete(socket)
      socket.destroy()
    }
    socket.on('error', () => { socket.destroy() })
    if (this.unpaired.size >= MAX_UNPAIRED) { drop('busy'); return }
    this.unpaired.add(socket)
    let head: Buffer = Buffer.alloc(0)
    const timer = setTimeout(() => { drop('ticket-timeout') }, FIRST_BYTES_MS)
    const onTicket = (chunk: Buffer): void => {
      head = head.byteLength === 0 ? chunk : Buffer.concat([head, chunk])
      if (head.byteLength < TICKET_BYTES) return
      socket.off('data', onTicket)
      clearTimeout(timer)
      const ticket = head.subarray(0, TICKET_BYTES).toString('hex')
      const entry = this.tickets.get(ticket)
      if (entry == null || entry.session.done) { drop('bad-ticket'); return }
      this.tickets.delete(ticket)
      this.unpaired.delete(socket)
      const side: Side = { socket, early: [head.subarray(TICKET_BYTES)], earlyBytes: head.byteLength - TICKET_BYTES }
      entry.session.sides[entry.side] = side
      // Until the partner arrives the socket keeps being read (not paused), so that a side that
      // leaves (its FIN, even on this half-open socket) is seen and ends the session at once
      // instead of leaving the partner waiting; what it sends meanwhile is held, within bounds.
      side.onEarly = (more: Buffer) => {
        side.early.push(more)
        side.earlyBytes += more.byteLength
        if (side.earlyBytes > MAX_EARLY_BYTES) this.expire(entry.session)
      }
      side.onLeave = () => { if (!entry.session.done) this.expire(entry.session) }
      socket.on('data', side.onEarly)
      socket.once('end', side.onLeave)
      socket.once('close', side.onLeave)
      this.pairIfReady(entry.session)
    }
    socket.on('data', onTicket)
    socket.once('close', () => { clearTimeout(timer); this.unpaired.delete(socket) })
  }

  private pairIfReady (session: Session): void {
    const [a, b] = session.sides
    if (a == null || b == null) return
    if (a.socket.destroyed || b.socket.destroyed) { this.expire(session); return }
    // The grant may have been taken back while the sockets were on their way.
    if (!this.c.policy.isAllowed(session.holder, session.provider)) {
      this.c.metrics.splicesRefused.inc({ reason: 'not-lease-holder' })
      this.expire(session)
      return
    }
    this.settle(session)
    const splice: Splice = { holder: session.holder, provider: session.provider, sockets: [a.socket, b.socket] }
    this.spliced.add(splice)
    this.c.metrics.splicesOpened.inc()
    this.c.metrics.splicesActive.inc()
    let finished = false
    let closed = 0
    let grace: NodeJS.Timeout | undefined
    const finish = (): void => {
      if (finished) return
      finished = true
      clearTimeout(grace)
      this.spliced.delete(splice)
      this.c.metrics.splicesActive.dec()
      for (const socket of splice.sockets) socket.destroy()
    }
    for (const [side, to] of [[a, b.socket], [b, a.socket]] as const) {
      const from = side.socket
      if (side.onEarly != null) from.off('data', side.onEarly)
      if (side.onLeave != null) { from.off('end', side.onLeave); from.off('close', side.onLeave) }
      for (const early of side.early) if (early.byteLength > 0) to.write(early)
      from.on('error', finish)
      from.once('close', () => {
        if (++closed === 2) finish()
        else grace = setTimeout(finish, HALF_CLOSED_GRACE_MS)
      })
      spliceCopy(from, to)
    }
    this.c.logger.debug({ holder: session.holder, provider: session.provider }, 'splice paired')
  }

  /** The session leaves the pending books (paired or expired). */
  private settle (session: Session): void {
    session.done = true
    clearTimeout(session.timer)
    for (const t of session.tickets) this.tickets.delete(t)
    if (this.pending.get(session.key) === session) this.pending.delete(session.key)
  }

  private expire (session: Session): void {
    this.settle(session)
    for (const side of session.sides) side?.socket.destroy()
  }

  /** Ends the open splices `match` picks, and the pending sessions of the same pairs. */
  private close (match: (pair: { holder: string, provider: string }) => boolean): void {
    for (const s of [...this.spliced]) if (match(s)) for (const socket of s.sockets) socket.destroy()
    for (const session of [...this.pending.values()]) if (match(session)) this.expire(session)
  }
}
