// One libp2p node of the tunnel benchmark, run as its own process (each side of a real tunnel
// is another machine; two nodes in one process would share one event loop):
//   provider --target HOST:PORT [--relay MULTIADDR]   serves /kaisar/tunnel/1.0.0 → TCP target
//                                                     (relayed: also takes the relay's splice offers)
//   user --provider MULTIADDR [--splice [--dedicated]] local TCP port → tunnel stream → provider
//                                                     (--splice: over a spliced connection via the relay;
//                                                     --dedicated: each connection a dedicated tunnel instead)
//   gateway                                           circuit relay v2 server, limits lifted, and
//                                                     the splice relay (every holder allowed)
// Every role takes --tuning SPEC (see parseTuning) and --sodium-path PATH.
// Prints one JSON line on stdout when ready ({"port"} / {"multiaddr","peerId"}); exits when
// stdin closes.
import net from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import '../node/runtime/polyfill.js'
import { pino } from 'pino'
import { STREAM_LIMITS } from '../node/network/libp2p.js'
import { NodeMetrics } from '../node/metrics/registry.js'
import { SpliceRelay } from '../node/roles/gateway/splice-relay.js'
import { DEFAULT_TUNING, loadSodiumCrypto, STOCK_TUNING, type StreamTuning } from '../node/network/stream-tuning.js'
import { DEFAULT_COALESCE_BYTES, pipeSocketStream, TUNNEL_SOCKET_OPTIONS, type PipeOptions } from '../node/network/tunnel-pipe.js'
import { pipeSealed } from '../node/network/sealed-pipe.js'
import { DedicatedTunnels } from '../node/user/dedicated-tunnels.js'
import { PROTOCOLS } from '../protocols/ids.js'
import { benchNode } from './lib.js'
import { flagValue } from './args.js'
import type { KaisarLibp2p } from '../node/network/libp2p.js'
import type { Connection } from '@libp2p/interface'

/** Tuning knobs by short name, for `stock+wu+cork`-style variant names. */
const KNOBS: Record<string, Partial<StreamTuning>> = {
  wu: { yamuxHalfWindowUpdates: true },
  wu16: { yamuxWindowUpdateMinBytes: DEFAULT_TUNING.yamuxWindowUpdateMinBytes },
  cork: { corkedWrites: true },
  nocopy: { noiseNoCopyDecrypt: true },
  nothrow: { noiseNoThrowDecode: true },
  hwm: { tcpHighWaterMark: DEFAULT_TUNING.tcpHighWaterMark },
  aes: { noiseAesGcm: true },
  chacha: { noiseAesGcm: false }
}

/**
 * 'stock' (libp2p as published, every socket read sent at once), 'tuned' (DEFAULT_TUNING and
 * the pipe's default batching), or either followed by `+knob`s: wu, wu16, cork, nocopy, nothrow, hwm, batch
 * (the pipe's read coalescing), sodium (Noise's cipher on sodium-native from --sodium-path),
 * aes / chacha (offer Noise with AES-256-GCM first, or only libp2p's ChaCha20-Poly1305 /noise).
 * E.g. stock+cork+nocopy+nothrow+hwm+batch+wu16+aes = tuned (tuned+chacha: tuned before stop
 * 18; without wu16 as well: before stop 17); tuned+wu adds the half-window updates.
 */
export async function parseTuning (spec: string, sodiumPath?: string): Promise<{ tuning: StreamTuning, pipe: PipeOptions }> {
  const [base, ...knobs] = spec.split('+')
  let tuning: StreamTuning
  const pipe: PipeOptions = {}
  if (base === 'stock') { tuning = { ...STOCK_TUNING }; pipe.coalesceBytes = 0 } else if (base === 'tuned') tuning = { ...DEFAULT_TUNING }
  else throw new Error(`unknown tuning base "${String(base)}" (stock|tuned)`)
  for (const knob of knobs) {
    if (knob === 'batch') { pipe.coalesceBytes = DEFAULT_COALESCE_BYTES; continue }
    if (knob === 'sodium') {
      const crypto = await loadSodiumCrypto(sodiumPath ?? 'sodium-native')
      if (crypto == null) throw new Error(`sodium-native not found at ${sodiumPath ?? 'sodium-native'}`)
      // A ChaCha20-Poly1305 implementation: measured on /noise, not under the AES variant.
      tuning = { ...tuning, noiseCrypto: crypto, noiseAesGcm: false }
      continue
    }
    const k = KNOBS[knob]
    if (k == null) throw new Error(`unknown tuning knob "${knob}" (${Object.keys(KNOBS).join('|')}|batch|sodium)`)
    tuning = { ...tuning, ...k }
  }
  return { tuning, pipe }
}

async function provider (node: KaisarLibp2p, target: { host: string, port: number }, pipe: PipeOptions): Promise<void> {
  await node.handle(PROTOCOLS.tunnel, async stream => {
    // Piped before the connect completes: Node queues writes until then, and a refused
    // connect is a socket error, which resets the stream.
    const socket = net.connect({ ...TUNNEL_SOCKET_OPTIONS, host: target.host, port: target.port })
    await pipeSocketStream(socket, stream, pipe)
  }, STREAM_LIMITS)
  // No leases here: every dedicated tunnel is let through to the target (the product checks the token).
  node.services.splice?.handleDedicatedTunnels(async tunnel => {
    await tunnel.accept(net.connect({ ...TUNNEL_SOCKET_OPTIONS, host: target.host, port: target.port }))
  })
}

/** The user's local port, and the encryption its connection to the provider negotiated. */
async function user (node: KaisarLibp2p, providerAddr: string, pipe: PipeOptions, viaSplice: boolean, dedicated: boolean): Promise<{ server: net.Server, encryption?: string }> {
  const ma = multiaddr(providerAddr)
  const connect = async (): Promise<Connection> => {
    const relayed = await node.dial(ma)
    if (!viaSplice) return relayed
    const spliced = await node.services.splice?.connect(relayed.remotePeer)
    if (spliced == null) throw new Error('the gateway did not splice')
    return spliced
  }
  let conn = await connect()
  // As `connect` does: a spare tunnel handshaken ahead of each connection.
  const splice = node.services.splice
  const tunnels = dedicated && splice != null ? new DedicatedTunnels(async () => await splice.prepareDedicatedTunnel(conn.remotePeer)) : undefined
  tunnels?.start()
  const server = net.createServer(TUNNEL_SOCKET_OPTIONS, socket => {
    void (async () => {
      if (dedicated) {
        socket.pause()
        const tunnel = await tunnels?.open('bench', 1)
        if (tunnel == null) throw new Error('the gateway did not splice a dedicated tunnel')
        await pipeSealed(socket, tunnel.socket, tunnel.keys, { leftover: tunnel.leftover })
        return
      }
      if (conn.status !== 'open') conn = await connect()
      const stream = await conn.newStream(PROTOCOLS.tunnel, { maxOutboundStreams: STREAM_LIMITS.maxOutboundStreams })
      await pipeSocketStream(socket, stream, pipe)
    })().catch(() => { socket.destroy() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, encryption: conn.encryption }
}

async function waitForCircuitAddress (node: KaisarLibp2p, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const addr = node.getMultiaddrs().find(a => a.toString().includes('/p2p-circuit'))
    if (addr != null) return addr.toString()
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error('no relay reservation')
}

if (process.argv[1]?.endsWith('tunnel-node.js') === true) {
  const args = process.argv.slice(2)
  const role = args[0]
  const { tuning, pipe } = await parseTuning(flagValue(args, '--tuning') ?? 'tuned', flagValue(args, '--sodium-path'))
  const relay = flagValue(args, '--relay')
  const listen = ['/ip4/127.0.0.1/tcp/0', ...(relay != null ? [`${relay}/p2p-circuit`] : [])]
  const node = await benchNode({ listen, tuning, relayServer: role === 'gateway', relayUnlimited: role === 'gateway' })
  let ready: Record<string, unknown>
  if (role === 'provider') {
    if (relay != null) await node.services.splice?.acceptOffers(peer => relay.endsWith(`/p2p/${peer.toString()}`), pino({ level: 'silent' }))
    const [host, port] = (flagValue(args, '--target') ?? '').split(':')
    if (host == null || port == null || port === '') throw new Error('provider needs --target HOST:PORT')
    await provider(node, { host, port: Number(port) }, pipe)
    const multiaddr = relay != null ? await waitForCircuitAddress(node, 10_000) : node.getMultiaddrs()[0]?.toString()
    ready = { multiaddr, peerId: node.peerId.toString() }
  } else if (role === 'user') {
    const providerAddr = flagValue(args, '--provider')
    if (providerAddr == null) throw new Error('user needs --provider MULTIADDR')
    const dedicated = args.includes('--dedicated')
    const { server, encryption } = await user(node, providerAddr, pipe, args.includes('--splice'), dedicated)
    ready = { port: (server.address() as net.AddressInfo).port, encryption: dedicated ? 'dedicated tunnels (Noise AES-256-GCM handshake, sealed records)' : encryption }
  } else if (role === 'gateway') {
    const everyone = { isAllowed: () => true, onRevoke: () => {} }
    await new SpliceRelay({ libp2p: node, policy: everyone, logger: pino({ level: 'silent' }), metrics: new NodeMetrics() }, { host: '127.0.0.1', port: 0 }).start()
    ready = { multiaddr: node.getMultiaddrs()[0]?.toString(), peerId: node.peerId.toString() }
  } else {
    throw new Error('usage: tunnel-node.js provider|user|gateway [options]')
  }
  process.stdout.write(JSON.stringify(ready) + '\n')
  process.stdin.resume()
  process.stdin.on('end', () => { void Promise.resolve(node.stop()).finally(() => process.exit(0)) })
}
