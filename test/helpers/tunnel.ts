// A user node and a provider node (TCP + Noise + Yamux as createNetwork builds them, without
// the DHT and gossip services, which the byte path does not touch) joined by a tunnel: a local
// TCP port on the user side, /kaisar/tunnel/1.0.0, and a TCP target behind the provider.
import net from 'node:net'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { STREAM_LIMITS, YAMUX_INIT } from '../../node/network/libp2p.js'
import { DEFAULT_TUNING, noiseEncrypters, tunedYamux, type StreamTuning } from '../../node/network/stream-tuning.js'
import { pipeSocketStream, TUNNEL_SOCKET_OPTIONS, type PipeOptions, type PipeResult } from '../../node/network/tunnel-pipe.js'
import type { Stream } from '@libp2p/interface'

export const TUNNEL = '/kaisar/tunnel/1.0.0'

export async function smallNode (tuning: StreamTuning = DEFAULT_TUNING): Promise<Libp2p> {
  const socketOpts = { noDelay: true, ...(tuning.tcpHighWaterMark != null ? { highWaterMark: tuning.tcpHighWaterMark } : {}) }
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp({ dialOpts: socketOpts, listenOpts: socketOpts })],
    connectionEncrypters: noiseEncrypters(tuning),
    streamMuxers: [tunedYamux(YAMUX_INIT, tuning)],
    connectionManager: { inboundConnectionThreshold: 1000 }
  })
}

export interface TunnelFixture {
  /** The user-side local port an application connects to. */
  port: number
  user: Libp2p
  provider: Libp2p
  /** Provider-side streams and pipe results, in arrival order. */
  providerStreams: Stream[]
  providerPipes: Array<Promise<PipeResult>>
  userPipes: Array<Promise<PipeResult>>
  stop: () => Promise<void>
}

/** Starts both nodes and the user's local port, tunnelling to 127.0.0.1:`targetPort`. */
export async function startTunnel (targetPort: number, opts: { userTuning?: StreamTuning, providerTuning?: StreamTuning, pipe?: PipeOptions } = {}): Promise<TunnelFixture> {
  const provider = await smallNode(opts.providerTuning)
  const user = await smallNode(opts.userTuning)
  const providerStreams: Stream[] = []
  const providerPipes: Array<Promise<PipeResult>> = []
  const userPipes: Array<Promise<PipeResult>> = []
  await provider.handle(TUNNEL, stream => {
    providerStreams.push(stream)
    const socket = net.connect({ ...TUNNEL_SOCKET_OPTIONS, host: '127.0.0.1', port: targetPort })
    providerPipes.push(pipeSocketStream(socket, stream, opts.pipe))
  }, STREAM_LIMITS)
  const addr = provider.getMultiaddrs()[0]
  if (addr == null) throw new Error('provider has no address')
  const conn = await user.dial(addr)
  const accepted = new Set<net.Socket>()
  const server = net.createServer(TUNNEL_SOCKET_OPTIONS, socket => {
    accepted.add(socket)
    socket.once('close', () => accepted.delete(socket))
    conn.newStream(TUNNEL).then(stream => {
      userPipes.push(pipeSocketStream(socket, stream, opts.pipe))
    }, () => { socket.destroy() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    user,
    provider,
    providerStreams,
    providerPipes,
    userPipes,
    stop: async () => {
      // A test may leave a tunnel half-open (as TCP allows): close its sockets, not wait for them.
      for (const socket of accepted) socket.destroy()
      await new Promise(resolve => server.close(resolve))
      await Promise.all([user.stop(), provider.stop()])
    }
  }
}

export async function listen (handler: (socket: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer(TUNNEL_SOCKET_OPTIONS, handler)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return server
}

export const portOf = (server: net.Server): number => (server.address() as net.AddressInfo).port

export async function connect (port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  return socket
}

/** A connected loopback pair, both ends half-open capable: `client` dialled, `accepted` its server side. */
export async function socketPair (): Promise<{ client: net.Socket, accepted: net.Socket, close: () => void }> {
  let accepted: net.Socket | undefined
  const server = net.createServer({ allowHalfOpen: true }, s => { accepted ??= s })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const client = net.connect({ host: '127.0.0.1', port: portOf(server), allowHalfOpen: true })
  while (accepted == null) await new Promise(resolve => setTimeout(resolve, 2))
  const a = accepted
  return { client, accepted: a, close: () => { client.destroy(); a.destroy(); server.close() } }
}
