// The one libp2p stack every role runs (DESIGN §2): TCP + WebSockets (or the memory
// transport in the simulator), Noise, Yamux, identify, ping, kad-dht under /kaisar,
// gossipsub, circuit relay (server on gateways, client everywhere), autonat and dcutr.
import { autoNAT } from '@libp2p/autonat'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { gossipsub, StrictNoSign, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper, type KadDHT, type Selectors, type Validators } from '@libp2p/kad-dht'
import { memory } from '@libp2p/memory'
import { ping, type Ping } from '@libp2p/ping'
import { plaintext } from '@libp2p/plaintext'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p, type Libp2p } from 'libp2p'
import { DHT_PROTOCOL } from '../../protocols/ids.js'
import { listConnectionsLinearly } from './connection-list.js'
import { keepNoClosestPeersAlive } from './dht-client.js'
import { inProcessTcp, type InProcessLinks } from './in-process-links.js'
import { libp2pLogger } from './libp2p-logger.js'
import { connectionTrimmer, type ConnectionTrimmer, type ConnectionTrimmerInit } from './connection-trimmer.js'
import { gossipMessageIds } from './gossip/message-id.js'
import { scoreParams, SCORE_THRESHOLDS } from './gossip/scoring.js'
import { dedupePeerStoreMerges } from './peer-store-dedupe.js'
import { isolatePeerStoreLocks } from './peer-store-locks.js'
import { cachePeerStoreReads } from './peer-store-read-cache.js'
import { spliceService, type SpliceService } from './splice/service.js'
import { fixStreamReadEnd } from './stream-read-end.js'
import { DEFAULT_TUNING, noiseEncrypters, tunedYamux, type StreamTuning } from './stream-tuning.js'
import type { ComponentLogger, ConnectionGater, PrivateKey, ServiceMap, Transport } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { Registry } from 'prom-client'
import type { GossipMesh } from '../config/schema.js'

export interface KaisarServices extends ServiceMap {
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
  /** Closes idle connections before the cap is reached (connection-trimmer.ts). */
  trimmer: ConnectionTrimmer
  /** Spliced relaying (splice/service.ts); TCP networks only. */
  splice?: SpliceService
}
export type KaisarLibp2p = Libp2p<KaisarServices>

export interface NetworkInit {
  privateKey: PrivateKey
  datastore?: Datastore
  listen: string[]
  announce?: string[]
  /** 'tcp' = TCP + WebSockets (+ relay client); 'memory' = the simulator's in-process transport (+ relay client). */
  transport: 'tcp' | 'memory'
  websockets?: boolean
  /** identify's agent version, `kaisar-node/<version> (<role>)`. */
  agentVersion: string
  maxConnections: number
  /** Water marks and grace period of the idle-connection trimmer (connection-trimmer.ts; its defaults otherwise). */
  connectionTrimmer?: ConnectionTrimmerInit
  inboundConnectionThreshold: number
  dhtServer: boolean
  /** Ping every connection this often, closing the ones that do not answer; 0 = off (default 60 s, see the config's network.connectionMonitorMs). */
  connectionMonitorMs?: number
  /** Yamux keep-alive ping interval per connection; 0 = off (default 30 s, see the config's network.keepAliveMs). */
  keepAliveMs?: number
  /** gossipsub's heartbeat interval (default 1 s, gossipsub's own). */
  gossipHeartbeatMs?: number
  /** kad-dht's self-query interval (default 5 min, kad-dht's own; the config's network.dhtSelfQueryMs). */
  dhtSelfQueryMs?: number
  /** gossipsub's mesh degrees (default gossipsub's own: D 6, Dlo 4, Dhi 12, Dlazy 6, Dout 2, Dscore 4). */
  gossipMesh?: GossipMesh
  relayServer: boolean
  autonat: boolean
  dcutr: boolean
  records: { validators: Validators, selectors: Selectors }
  /** Prometheus registry for libp2p's own metrics; omitted in the simulator (hundreds of nodes, one process). */
  metricsRegistry?: Registry
  logger?: ComponentLogger
  /** Extra IPs exempt from gossipsub's IP-colocation penalty. */
  trustedIps?: string[]
  /**
   * gossipsub peer exchange: when this node prunes a peer from a topic's mesh it names other
   * peers of the topic (signed peer records) for it to connect to. Gateways do: they are the
   * bootstrappers everyone dials first, so without it the checkers' topics meshed only through
   * them, and past a dozen checkers (mesh degree 12) the rest heard heartbeats only by gossip.
   */
  gossipPeerExchange?: boolean
  /** Peer ids whose peer exchange this node accepts: its bootstrap peers. */
  bootstrapPeers?: string[]
  /** Memory transport only: delay added to every message this node sends (the simulator's link latency). */
  memoryLatencyMs?: number
  /**
   * TCP transport only: this process's registry of listening nodes. Dials to one of them stay
   * in memory (in-process-links.ts); the simulator's shards set it, a real node never does.
   */
  inProcessLinks?: InProcessLinks
  /**
   * Byte-path tuning (stream-tuning.ts). Default: DEFAULT_TUNING. STOCK_TUNING = libp2p as
   * published; `{ ...DEFAULT_TUNING, noiseCrypto: await loadSodiumCrypto() }` opts in to
   * libsodium's cipher (not the default: it did not measure faster across processes).
   */
  tuning?: StreamTuning
  /**
   * Relay server only: no data/duration limit on relayed connections (circuit relay v2's
   * defaults, 128 KiB and 2 minutes, kill a tunnel at once). Lifting them for everyone makes
   * an open relay: a gateway must lift them only for lease holders (DESIGN §1); the benchmark
   * uses this on its private gateway.
   */
  relayUnlimited?: boolean
  /**
   * Which peers this node may connect to (libp2p's ConnectionGater). Only the simulator sets it,
   * to cut a running network in two (sim/partition.ts); real nodes accept everyone libp2p does.
   */
  connectionGater?: ConnectionGater
  /** The peer-store read cache (peer-store-read-cache.ts); default on. Off only to measure what it buys (`npm run bench -- dht`). */
  peerStoreReadCache?: boolean
}

/** Yamux stream window 16 MiB for bulk tunnels; the read buffer must be at least as large or a paused stream is reset (DESIGN §4). */
export const YAMUX_WINDOW = 16 * 1024 * 1024

/** Yamux settings of every node (tests build their small stacks from the same). */
export const YAMUX_INIT = { streamOptions: { maxStreamWindowSize: YAMUX_WINDOW, maxReadBufferLength: YAMUX_WINDOW + 4 * 1024 * 1024 } }

/** Stream limits per protocol per connection; libp2p's defaults (32 in / 64 out) are too low for tunnels and relays. */
export const STREAM_LIMITS = { maxInboundStreams: 1024, maxOutboundStreams: 1024 }

function meshDegrees (m: GossipMesh): { D: number, Dlo: number, Dhi: number, Dlazy: number, Dout: number, Dscore: number } {
  return { D: m.d, Dlo: m.dLow, Dhi: m.dHigh, Dlazy: m.dLazy, Dout: m.dOut, Dscore: m.dScore }
}

export async function createNetwork (init: NetworkInit): Promise<KaisarLibp2p> {
  fixStreamReadEnd()
  const tuning = init.tuning ?? DEFAULT_TUNING
  // noDelay: small requests (a 64-byte RPC, a keystroke in a tunnel) must not wait for Nagle.
  // highWaterMark: see StreamTuning.tcpHighWaterMark (one 64 KiB Noise frame per write would
  // otherwise report backpressure every time).
  const socketOpts = { noDelay: true, ...(tuning.tcpHighWaterMark != null ? { highWaterMark: tuning.tcpHighWaterMark } : {}) }
  const transports: Array<(components: any) => Transport> = init.transport === 'memory'
    ? [memory({ latency: init.memoryLatencyMs })]
    : [
        init.inProcessLinks != null ? inProcessTcp(init.inProcessLinks, { dialOpts: socketOpts, listenOpts: socketOpts }) : tcp({ dialOpts: socketOpts, listenOpts: socketOpts }),
        ...(init.websockets === false ? [] : [webSockets()])
      ]
  transports.push(circuitRelayTransport({ reservationCompletionTimeout: 10_000 }))

  const services: Record<string, (components: any) => unknown> = {
    identify: identify({ runOnConnectionOpen: true }),
    // kad-dht looks the ping service up by this name.
    // ping's default allows one outbound stream per connection; kad-dht's liveness checks and
    // an operator's `kaisar-node ping` then collide ("Too many outbound protocol streams").
    ping: ping({ maxInboundStreams: 16, maxOutboundStreams: 16 }),
    dht: kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: !init.dhtServer,
      // Peers on loopback and private networks are legitimate here (devnets, LANs, the simulator).
      peerInfoMapper: passthroughMapper,
      validators: init.records.validators,
      selectors: init.records.selectors,
      // Default (false): a query waits for a first DHT peer. With true, a node that has none (a
      // provider listening only through a relay, before its reservation) spins: the relay
      // transport's random walk re-runs instantly-failing queries and starves the event loop.
      allowQueryWithZeroPeers: false,
      initialQuerySelfInterval: 500,
      ...(init.dhtSelfQueryMs != null ? { querySelfInterval: init.dhtSelfQueryMs } : {})
    }),
    pubsub: gossipsub({
      globalSignaturePolicy: StrictNoSign,
      ...await gossipMessageIds(),
      allowPublishToZeroTopicPeers: true,
      ignoreDuplicatePublishError: true,
      emitSelf: false,
      scoreParams: scoreParams(init.trustedIps, init.bootstrapPeers),
      doPX: init.gossipPeerExchange === true,
      scoreThresholds: SCORE_THRESHOLDS,
      maxInboundDataLength: 64 * 1024,
      ...(init.gossipHeartbeatMs != null ? { heartbeatInterval: init.gossipHeartbeatMs } : {}),
      ...(init.gossipMesh != null ? meshDegrees(init.gossipMesh) : {})
    }),
    trimmer: connectionTrimmer(init.connectionTrimmer)
  }
  if (init.relayServer) {
    services.relay = circuitRelayServer({
      reservations: { maxReservations: 1024, ...(init.relayUnlimited === true ? { applyDefaultLimit: false } : {}) },
      maxInboundHopStreams: 1024,
      maxOutboundHopStreams: 1024
    })
  }
  if (init.transport === 'tcp') services.splice = spliceService({ socketOptions: socketOpts })
  if (init.autonat) services.autonat = autoNAT({ startupDelay: 5_000 })
  if (init.dcutr) services.dcutr = dcutr()

  const monitorMs = init.connectionMonitorMs ?? 60_000
  const keepAliveMs = init.keepAliveMs ?? 30_000
  const node = await createLibp2p({
    privateKey: init.privateKey,
    datastore: init.datastore,
    addresses: { listen: init.listen, announce: init.announce ?? [] },
    nodeInfo: { userAgent: init.agentVersion },
    transports,
    connectionEncrypters: init.inProcessLinks?.crossProcessPlaintext === true ? [plaintext(), ...noiseEncrypters(tuning)] : noiseEncrypters(tuning),
    streamMuxers: [tunedYamux(keepAliveMs > 0 ? { ...YAMUX_INIT, keepAliveInterval: keepAliveMs } : { ...YAMUX_INIT, enableKeepAlive: false }, tuning)],
    connectionMonitor: monitorMs > 0 ? { pingInterval: monitorMs } : { enabled: false },
    connectionManager: {
      maxConnections: init.maxConnections,
      inboundConnectionThreshold: init.inboundConnectionThreshold,
      maxIncomingPendingConnections: 64
    },
    ...(init.connectionGater != null ? { connectionGater: init.connectionGater } : {}),
    metrics: init.metricsRegistry != null ? prometheusMetrics({ registry: init.metricsRegistry, collectDefaultMetrics: false }) : undefined,
    logger: init.logger ?? libp2pLogger(),
    services: services as unknown as { [K in keyof KaisarServices]: (components: any) => KaisarServices[K] },
    start: false
  })
  // This node's peer-store locks are its own, not shared with other nodes of this process (the simulator's).
  isolatePeerStoreLocks(node.peerStore, node.peerId.toString())
  listConnectionsLinearly(node)
  // Reads first, merges on top: a merge the dedupe skips is not a write, so it keeps what the read cache holds.
  if (init.peerStoreReadCache !== false) cachePeerStoreReads(node.peerStore)
  dedupePeerStoreMerges(node.peerStore)
  if (!init.dhtServer) keepNoClosestPeersAlive(node.services.dht)
  return node
}
