// The provider's lease protocols: quotes on /kaisar/bid/1.0.0, lease requests and their event
// streams on /kaisar/lease/1.0.0, and tunnels on /kaisar/tunnel/1.0.0 or as dedicated tunnels
// through a gateway (protocols/tunnel/dedicated.ts; the same header and checks). Every request is
// validated before it acts; a tunnel opens only for a valid lease token held by the peer
// presenting it, for a port the token names, on a running lease.
import net from 'node:net'
import { bidRequestSchema, leaseRequestSchema, tunnelHeaderSchema, type LeaseEvent, type LeaseRequest, type Quote } from '../../../protocols/lease/messages.js'
import { openLeaseToken } from '../../../protocols/lease/token.js'
import { PROTOCOLS } from '../../../protocols/ids.js'
import { KaisarError } from '../../errors.js'
import { JsonFrames } from '../../network/json-frames.js'
import { STREAM_LIMITS } from '../../network/libp2p.js'
import { registerReqResp } from '../../network/reqresp.js'
import { pipeSocketStream, TUNNEL_SOCKET_OPTIONS } from '../../network/tunnel-pipe.js'
import type { InboundDedicatedTunnel } from '../../network/splice/dedicated-tunnel.js'
import { LeaseRefusedError, type LeaseManager } from './lease-manager.js'
import type { Ledger } from '../../../chain/ledger.js'
import type { ContainerRuntime } from '../../containers/runtime.js'
import type { TxSigner } from '../../identity/signer.js'
import type { Logger } from '../../log.js'
import type { NodeMetrics } from '../../metrics/registry.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { Connection, Startable, Stream } from '@libp2p/interface'

export type TunnelRefusal = 'malformed' | 'bad-token' | 'wrong-provider' | 'expired' | 'wrong-holder' | 'port-not-granted' | 'lease-not-running' | 'unknown-lease' | 'dial-failed'

export interface LeaseServiceComponents {
  libp2p: KaisarLibp2p
  leases: LeaseManager
  runtime?: ContainerRuntime
  ledger: Ledger
  wallet: TxSigner
  logger: Logger
  metrics: NodeMetrics
  /** The provider's total rentable capacity (its hardware). */
  capacity: () => { cpus: number, memoryBytes: number, gpus: number }
  now?: () => number
}

/** Protocols a user reaches a (possibly relayed) provider with run on limited connections too. */
const HANDLER_OPTIONS = { ...STREAM_LIMITS, runOnLimitedConnection: true }

export class LeaseService implements Startable {
  constructor (private readonly c: LeaseServiceComponents) {}

  private now (): number { return this.c.now?.() ?? Date.now() }

  async start (): Promise<void> {
    const { libp2p, leases, ledger, wallet } = this.c
    await registerReqResp(libp2p, {
      protocol: PROTOCOLS.bid,
      schema: bidRequestSchema,
      logger: this.c.logger,
      runOnLimitedConnection: true,
      handle: async ({ order }) => {
        const fit = leases.fits(order)
        const usage = leases.usage()
        const total = this.c.capacity()
        const quote: Quote = {
          provider: libp2p.peerId.toString(),
          wallet: wallet.address,
          pricePerHour: leases.price(order).toString(),
          symbol: ledger.symbol,
          decimals: ledger.decimals,
          available: fit.ok,
          reason: fit.ok ? undefined : fit.reason,
          free: { cpus: Math.max(0, total.cpus - usage.cpus), memoryBytes: Math.max(0, total.memoryBytes - usage.memoryBytes), gpus: Math.max(0, total.gpus - usage.gpus) }
        }
        return quote
      }
    })
    await libp2p.handle(PROTOCOLS.lease, async (stream, connection) => { await this.onLease(stream, connection) }, HANDLER_OPTIONS)
    await libp2p.handle(PROTOCOLS.tunnel, async (stream, connection) => { await this.onTunnel(stream, connection) }, HANDLER_OPTIONS)
    // The same tunnels on their own spliced sockets, when a gateway relays this provider.
    libp2p.services.splice?.handleDedicatedTunnels(async tunnel => { await this.onDedicatedTunnel(tunnel) })
  }

  async stop (): Promise<void> {
    for (const p of [PROTOCOLS.bid, PROTOCOLS.lease, PROTOCOLS.tunnel]) await this.c.libp2p.unhandle(p)
    this.c.libp2p.services.splice?.handleDedicatedTunnels(undefined)
  }

  // ---- /kaisar/lease/1.0.0 -------------------------------------------------------------

  private async onLease (stream: Stream, connection: Connection): Promise<void> {
    const frames = new JsonFrames(stream)
    const requester = connection.remotePeer.toString()
    const send = (event: LeaseEvent): void => { frames.write(event).catch(() => {}) }
    let req: LeaseRequest
    try {
      req = await frames.read(leaseRequestSchema, { signal: AbortSignal.timeout(30_000) })
    } catch (err) {
      send({ event: 'error', code: 'MALFORMED', message: (err as Error).message })
      await stream.close().catch(() => {})
      return
    }
    try {
      switch (req.op) {
        case 'create':
          await this.c.leases.create(req, requester, send)
          break
        case 'status': {
          const lease = this.ownLease(req.leaseId, requester)
          send({ event: 'status', leaseId: lease.leaseId, status: lease.status, ports: lease.order.ports, expiresAt: lease.expiresAt, reason: lease.reason })
          break
        }
        case 'cancel': {
          const lease = await this.c.leases.cancel(req.leaseId, requester)
          send({ event: 'stopped', leaseId: lease.leaseId, reason: lease.reason ?? 'stopped' })
          break
        }
        case 'logs': {
          this.ownLease(req.leaseId, requester)
          if (this.c.runtime == null) throw new LeaseRefusedError('NO_RUNTIME', 'no container engine')
          const signal = AbortSignal.timeout(req.follow === true ? 3_600_000 : 30_000)
          for await (const chunk of this.c.runtime.logs(req.leaseId, { tail: req.tail, follow: req.follow, signal })) {
            await frames.write({ event: 'log', leaseId: req.leaseId, stream: chunk.stream, data: Buffer.from(chunk.data).toString('base64') } satisfies LeaseEvent)
          }
          break
        }
      }
    } catch (err) {
      const code = err instanceof KaisarError ? err.code : 'INTERNAL'
      if (!(err instanceof KaisarError)) this.c.logger.warn({ err, op: req.op }, 'lease request failed')
      send({ event: 'error', code, message: err instanceof KaisarError ? err.message : 'internal error' })
    }
    await stream.close().catch(() => {})
  }

  private ownLease (leaseId: string, requester: string): NonNullable<ReturnType<LeaseManager['store']['get']>> {
    const lease = this.c.leases.store.get(leaseId)
    if (lease == null) throw new LeaseRefusedError('UNKNOWN_LEASE', `no lease ${leaseId}`)
    if (lease.userPeer !== requester) throw new LeaseRefusedError('NOT_ALLOWED', 'not your lease')
    return lease
  }

  // ---- /kaisar/tunnel/1.0.0 ------------------------------------------------------------

  private async onTunnel (stream: Stream, connection: Connection): Promise<void> {
    const frames = new JsonFrames(stream, 8192)
    const peer = connection.remotePeer.toString()
    const refuse = async (reason: TunnelRefusal, message: string, leaseId?: string): Promise<void> => {
      this.countRefusal(peer, reason, message, leaseId)
      await frames.write({ ok: false, code: reason, message }).catch(() => {})
      await stream.close().catch(() => {})
    }
    let header
    try {
      header = await frames.read(tunnelHeaderSchema, { signal: AbortSignal.timeout(10_000) })
    } catch (err) {
      await refuse('malformed', (err as Error).message); return
    }
    const admitted = await this.admitTunnel(header, peer)
    if (!admitted.ok) { await refuse(admitted.reason, admitted.message, admitted.leaseId); return }
    await frames.write({ ok: true })
    this.c.metrics.tunnelsOpened.inc()
    this.c.metrics.tunnelsActive.inc()
    // Bytes the length-prefixed reader buffered past the header belong to the tunnel.
    const rest = frames.lp.unwrap()
    await pipeSocketStream(admitted.socket, rest).finally(() => { this.c.metrics.tunnelsActive.dec() })
  }

  private async onDedicatedTunnel (tunnel: InboundDedicatedTunnel): Promise<void> {
    const peer = tunnel.peer.toString()
    const admitted = await this.admitTunnel(tunnel, peer)
    if (!admitted.ok) {
      this.countRefusal(peer, admitted.reason, admitted.message, admitted.leaseId)
      await tunnel.refuse(admitted.reason, admitted.message)
      return
    }
    this.c.metrics.tunnelsOpened.inc()
    this.c.metrics.tunnelsActive.inc()
    await tunnel.accept(admitted.socket).finally(() => { this.c.metrics.tunnelsActive.dec() })
  }

  private countRefusal (peer: string, reason: TunnelRefusal, message: string, leaseId?: string): void {
    this.c.metrics.tunnelsRefused.inc({ reason })
    this.c.logger.info({ peer, reason, leaseId }, `tunnel refused: ${message}`)
  }

  /**
   * Whether `peer` may open a tunnel with `header`: a valid token of this provider's, not expired,
   * issued to this peer, for this port, of a running lease. Then the container port's socket.
   */
  private async admitTunnel (header: { token: string, port: number }, peer: string): Promise<{ ok: true, socket: net.Socket } | { ok: false, reason: TunnelRefusal, message: string, leaseId?: string }> {
    const refusal = (reason: TunnelRefusal, message: string, leaseId?: string): { ok: false, reason: TunnelRefusal, message: string, leaseId?: string } => ({ ok: false, reason, message, leaseId })
    const token = await openLeaseToken(header.token)
    if (!token.ok) return refusal('bad-token', `token ${token.reason}`)
    const { body } = token
    if (!token.provider.equals(this.c.libp2p.peerId)) return refusal('wrong-provider', 'the token was issued by another provider', body.leaseId)
    if (body.expiresAt <= this.now()) return refusal('expired', 'the token has expired', body.leaseId)
    if (!body.holders.includes(peer)) return refusal('wrong-holder', 'the token was not issued to this peer', body.leaseId)
    if (!body.ports.includes(header.port)) return refusal('port-not-granted', `the token does not open port ${header.port}`, body.leaseId)
    const lease = this.c.leases.store.get(body.leaseId)
    if (lease == null) return refusal('unknown-lease', `no lease ${body.leaseId}`, body.leaseId)
    const hostPort = lease.ports[String(header.port)]
    if (lease.status !== 'running' || hostPort == null) return refusal('lease-not-running', `lease ${body.leaseId} is ${lease.status}`, body.leaseId)

    const socket = net.connect({ ...TUNNEL_SOCKET_OPTIONS, host: '127.0.0.1', port: hostPort })
    try {
      await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    } catch (err) {
      socket.destroy()
      return refusal('dial-failed', `the container port did not answer: ${(err as Error).message}`, body.leaseId)
    }
    return { ok: true, socket }
  }
}
