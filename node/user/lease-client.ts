// The user's side of /kaisar/bid/1.0.0, /kaisar/lease/1.0.0 and /kaisar/tunnel/1.0.0.
import net from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { leaseEventSchema, quoteSchema, tunnelReplySchema, type LeaseEvent, type LeaseRequest, type Order, type Quote } from '../../protocols/lease/messages.js'
import { PROTOCOLS } from '../../protocols/ids.js'
import { TunnelRefusedError } from '../errors.js'
import { JsonFrames } from '../network/json-frames.js'
import { request } from '../network/reqresp.js'
import { pipeSealed } from '../network/sealed-pipe.js'
import { DedicatedTunnels } from './dedicated-tunnels.js'
import { pipeSocketStream, TUNNEL_SOCKET_OPTIONS } from '../network/tunnel-pipe.js'
import type { Logger } from '../log.js'
import type { Discovery } from '../services/discovery.js'
import type { KaisarLibp2p } from '../network/libp2p.js'
import type { AbortOptions, PeerId, Stream } from '@libp2p/interface'

export { TunnelRefusedError }

/**
 * Connects to a lease's provider: first where the user last knew it, then where its current
 * signed record says (a restarted provider may listen elsewhere). Returns the addresses that
 * worked, so the caller can remember them.
 */
export async function reachProvider (libp2p: KaisarLibp2p, discovery: Discovery, provider: string, known: string[], options: AbortOptions = {}): Promise<{ peer: PeerId, addresses: string[] }> {
  const peer = await knowProvider(libp2p, provider, known)
  try {
    await libp2p.dial(peer, { signal: options.signal ?? AbortSignal.timeout(10_000), runOnLimitedConnection: true } as AbortOptions)
    return { peer, addresses: known }
  } catch (err) {
    const record = await discovery.describe(peer, AbortSignal.timeout(10_000)).catch(() => undefined)
    if (record == null || record.addresses.join() === known.join()) throw err
    await libp2p.peerStore.patch(peer, { multiaddrs: record.addresses.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } }) })
    await libp2p.dial(peer, { signal: options.signal ?? AbortSignal.timeout(10_000), runOnLimitedConnection: true } as AbortOptions)
    return { peer, addresses: record.addresses }
  }
}

/** Tells libp2p where a provider is (its record's addresses, relay addresses included). */
export async function knowProvider (libp2p: KaisarLibp2p, provider: string, addresses: string[]): Promise<PeerId> {
  const peer = peerIdFromString(provider)
  const multiaddrs = addresses.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
  if (multiaddrs.length > 0) await libp2p.peerStore.merge(peer, { multiaddrs })
  return peer
}

const DIAL = { runOnLimitedConnection: true, maxOutboundStreams: 1024 }

export async function requestQuote (libp2p: KaisarLibp2p, provider: PeerId, order: Order, options: AbortOptions = {}): Promise<{ quote: Quote, rttMs: number }> {
  const t0 = performance.now()
  const result = await request(libp2p, provider, PROTOCOLS.bid, { order }, { ...options, timeoutMs: 10_000, runOnLimitedConnection: true })
  const rttMs = performance.now() - t0
  return { quote: quoteSchema.parse(result), rttMs }
}

/** Sends one lease request and yields the provider's events until it closes the stream. */
export async function * leaseEvents (libp2p: KaisarLibp2p, provider: PeerId, req: LeaseRequest, options: AbortOptions = {}): AsyncGenerator<LeaseEvent> {
  const stream = await libp2p.dialProtocol(provider, PROTOCOLS.lease, { ...DIAL, signal: options.signal } as AbortOptions)
  const frames = new JsonFrames(stream)
  try {
    await frames.write(req, options)
    while (true) {
      let event: LeaseEvent
      try {
        event = await frames.read(leaseEventSchema, options)
      } catch (err) {
        if (/end of input|EOF|closed/i.test((err as Error).message) || stream.readStatus !== 'readable') return
        throw err
      }
      yield event
    }
  } finally {
    await stream.close().catch(() => {})
  }
}

/** Opens one tunnel stream to `port` of the lease the token is for; the stream then carries raw bytes. */
export async function openTunnel (libp2p: KaisarLibp2p, provider: PeerId, token: string, port: number, options: AbortOptions = {}): Promise<Stream> {
  // A provider reached through a gateway's circuit relay: ask that gateway for a spliced
  // connection first (one Noise layer instead of three); libp2p then opens the stream on it.
  await libp2p.services.splice?.connect(provider, options)
  const stream = await libp2p.dialProtocol(provider, PROTOCOLS.tunnel, { ...DIAL, signal: options.signal } as AbortOptions)
  const frames = new JsonFrames(stream, 8192)
  await frames.write({ token, port }, options)
  const reply = await frames.read(tunnelReplySchema, options)
  if (!reply.ok) {
    await stream.close().catch(() => {})
    throw new TunnelRefusedError(reply.code, reply.message)
  }
  return frames.lp.unwrap()
}

export interface PortForward {
  localHost: string
  localPort: number
  containerPort: number
  /**
   * A provider behind a gateway: 'dedicated' (the default) gives each local connection its own
   * spliced socket (protocols/tunnel/dedicated.ts: the fastest path for bulk bytes; one tunnel is
   * kept handshaken ahead of use, and opening still costs a few ms more than a stream); 'shared'
   * carries them all as streams of one spliced libp2p connection (quicker to open, slower to
   * carry). A provider reached directly always gets streams.
   */
  tunnel?: 'dedicated' | 'shared'
}

/**
 * `kaisar-node connect`: a local TCP port whose every connection becomes one tunnel to the
 * container's port. Returns the listening server (its address has the real port).
 */
export async function forwardPort (libp2p: KaisarLibp2p, provider: PeerId, token: string, fwd: PortForward, log: Logger): Promise<net.Server> {
  const splice = libp2p.services.splice
  const tunnels = fwd.tunnel !== 'shared' && splice != null ? new DedicatedTunnels(async () => await splice.prepareDedicatedTunnel(provider)) : undefined
  tunnels?.start()
  const server = net.createServer(TUNNEL_SOCKET_OPTIONS, socket => {
    socket.pause() // nothing may be lost while the tunnel opens
    const signal = AbortSignal.timeout(15_000)
    void (async () => {
      const dedicated = await tunnels?.open(token, fwd.containerPort, { signal })
      if (dedicated != null) {
        await pipeSealed(socket, dedicated.socket, dedicated.keys, { leftover: dedicated.leftover })
        return
      }
      const stream = await openTunnel(libp2p, provider, token, fwd.containerPort, { signal })
      socket.resume()
      await pipeSocketStream(socket, stream)
    })().catch(err => {
      log.warn({ err: (err as Error).message, port: fwd.containerPort }, 'tunnel failed')
      socket.destroy()
    })
  })
  server.once('close', () => { tunnels?.close() })
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => { tunnels?.close(); reject(err) }
    server.once('error', onError)
    server.listen(fwd.localPort, fwd.localHost, () => { server.off('error', onError); resolve() })
  })
  return server
}
