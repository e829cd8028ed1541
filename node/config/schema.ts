// The one schema every configuration source is validated against (defaults < file < env < flags).
// Role-dependent defaults live in `roleDefaults`; everything else is a plain default here.
import os from 'node:os'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { TOKEN_AMOUNT } from '../../chain/amount.js'
import { LOG_LEVELS, ROLES, type Role } from './names.js'

export { LOG_LEVELS, ROLES, type LogLevel, type Role } from './names.js'

function isMultiaddr (value: string): boolean {
  try { multiaddr(value); return true } catch { return false }
}

const multiaddrString = z.string().refine(isMultiaddr, { message: 'not a valid multiaddr' })

/** A bootstrap address must name the peer it expects to reach (`.../p2p/<peer id>`). */
const peerMultiaddrString = multiaddrString.refine(value => {
  try { return multiaddr(value).getComponents().some(c => c.name === 'p2p') } catch { return false }
}, { message: 'must end with /p2p/<peer id>' })

/** "HOST:PORT", IPv6 hosts in brackets ("[::1]:7001"). */
export interface HostPort { host: string, port: number }
export function parseHostPort (value: string): HostPort | undefined {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value.trim())
  if (m == null) return undefined
  const port = Number(m[3])
  if (port > 65535) return undefined
  return { host: (m[1] ?? m[2]) as string, port }
}
const hostPortString = z.string().refine(v => parseHostPort(v) != null, { message: 'must be HOST:PORT with a port from 0 to 65535' })

/** A token amount as operators write it: "100", "0.25". */
const tokenAmount = z.string().regex(TOKEN_AMOUNT, 'must be a token amount such as "100" or "0.25"')

/** `local` (the embedded ledger) or a peaq node's WebSocket endpoint. */
const chainString = z.string().refine(v => v === 'local' || /^wss?:\/\/\S+$/.test(v), { message: 'must be "local" or a ws:// / wss:// URL' })

/** How often a provider puts its settled record into the DHT again (10 min). */
export const DEFAULT_RECORD_REPUBLISH_MS = 600_000

/** kad-dht's own interval for its self-query (5 min). */
export const DEFAULT_DHT_SELF_QUERY_MS = 300_000

/**
 * gossipsub's mesh degrees (its D, Dlo, Dhi, Dlazy, Dout, Dscore); the defaults are gossipsub's
 * own. A node forwards every message it receives to its mesh peers, so each subscriber receives
 * about `d` copies of every message: fewer copies against less redundancy under churn and attack.
 * (At 300 simulated nodes d = 4 did not measure cheaper than 6: sim/README.md, stop 23.) The
 * checks are gossipsub's own invariants, which it does not enforce itself.
 */
export const gossipMeshSchema = z.object({
  d: z.number().int().min(1).max(64).default(6),
  dLow: z.number().int().min(1).max(64).default(4),
  dHigh: z.number().int().min(1).max(128).default(12),
  dLazy: z.number().int().min(0).max(64).default(6),
  dOut: z.number().int().min(0).max(32).default(2),
  dScore: z.number().int().min(0).max(64).default(4)
}).strict()
  .refine(m => m.dLow <= m.d && m.d <= m.dHigh, { message: 'needs dLow ≤ d ≤ dHigh' })
  .refine(m => m.dOut < m.dLow && m.dOut <= m.d / 2, { message: 'needs dOut < dLow and dOut ≤ d/2' })
  .refine(m => m.dScore <= m.d, { message: 'needs dScore ≤ d' })
export type GossipMesh = z.infer<typeof gossipMeshSchema>

export const PEAQ_ESCROW_MISSING = 'a node on peaq needs the deployment\'s escrow account (--peaq-escrow or KAISAR_PEAQ_ESCROW)'

export const configSchema = z.object({
  role: z.enum(ROLES, { message: `must be one of ${ROLES.join(', ')}` }),
  dataDir: z.string().min(1, 'must not be empty'),
  listen: z.array(multiaddrString),
  announce: z.array(multiaddrString).default([]),
  bootstrap: z.array(peerMultiaddrString).default([]),
  api: hostPortString,
  logLevel: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  chain: chainString.default('local'),
  /** Host the local ledger in this node (the devnet's gateway does). */
  ledgerHost: z.boolean().default(false),
  /** The local ledger's host (…/p2p/<peer id>); default: the first bootstrap peer. */
  ledgerPeer: peerMultiaddrString.optional(),
  /** On peaq (`chain: ws://…`): the deployment's escrow (custody) account and record namespace. */
  peaq: z.object({
    escrow: z.string().min(40).max(64).optional(),
    namespace: z.string().regex(/^[a-z0-9-]{1,16}$/, '1-16 of a-z 0-9 -').default('kaisar'),
    /** Give up connecting to the peaq node after this long: the start fails with one line. */
    connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000)
  }).strict().prefault({}),
  /** Encrypts the node's keys at rest. Never logged. */
  passphrase: z.string().optional(),
  region: z.string().regex(/^([A-Z]{2})?$/, 'must be an ISO 3166-1 alpha-2 code such as DE, or empty').default(''),
  network: z.object({
    maxConnections: z.number().int().min(1).max(100_000).default(300),
    /** libp2p's default (5 inbound connections/s per IP) throttles a devnet or a busy gateway. */
    inboundConnectionThreshold: z.number().int().min(1).default(100),
    /** DHT server mode answers queries; clients only ask. */
    dhtServer: z.boolean().default(true),
    /**
     * libp2p's connection monitor opens a ping stream on every connection this often and closes
     * connections whose ping times out (0 = off). libp2p's 10 s means a node with hundreds of
     * connections pings dozens of peers every second, all at the same instant; Yamux keep-alive
     * already finds dead connections, so the monitor only needs to catch stalled streams.
     */
    connectionMonitorMs: z.number().int().min(0).max(3_600_000).default(60_000),
    /**
     * Yamux keep-alive: each end pings every connection this often (0 = off). 30 s is Yamux's
     * own default and go-yamux's: it keeps NAT mappings open and finds connections that died
     * without a FIN. Two frames per connection per interval per end, whatever the traffic.
     * Above 2 minutes (or 0) an idle connection is closed by TCP's inactivity timeout.
     */
    keepAliveMs: z.number().int().min(0).max(3_600_000).default(30_000),
    /**
     * gossipsub's heartbeat (mesh upkeep, IHAVE gossip, score decay), ms; gossipsub's own default
     * is 1 s. The simulator stretches it with its time dilation: hundreds of nodes in one process
     * spend much of their CPU on heartbeats, and messages still travel the mesh at once.
     */
    gossipHeartbeatMs: z.number().int().min(100).max(60_000).default(1000),
    /**
     * How often kad-dht walks the network for this node's own id (its self-query), ms; 5 min is
     * kad-dht's default. Every node does it, client or server, so N nodes make N walks per
     * interval, most of their requests landing on the few servers. It is kad-dht's only walk of
     * its own: its routing-table refresh never runs in @libp2p/kad-dht 16.4 (RoutingTableRefresh
     * has no `start`, so the start helper skips it and its `afterStart`). The simulator stretches
     * it with its time dilation, as it does the other protocol intervals.
     */
    dhtSelfQueryMs: z.number().int().min(10_000).max(7 * 24 * 3_600_000).default(DEFAULT_DHT_SELF_QUERY_MS),
    gossipMesh: gossipMeshSchema.prefault({}),
    relayServer: z.boolean().default(false),
    /**
     * Relay servers (gateways): HOST:PORT of the splice port, where a lease holder's node and a
     * relayed provider meet for a spliced connection (node/roles/gateway/splice-relay.ts); port 0
     * picks a free one, '' turns splicing off (tunnels then use circuit relay only).
     */
    spliceListen: z.union([z.literal(''), hostPortString]).default('0.0.0.0:0'),
    autonat: z.boolean().default(true),
    dcutr: z.boolean().default(true),
    websockets: z.boolean().default(true)
  }).strict().prefault({}),
  provider: z.object({
    /** Use this hardware inventory (JSON, as `kaisar-node inventory --json` prints) instead of probing. */
    inventoryFile: z.string().min(1).optional(),
    /**
     * Container engine for leases: docker (DOCKER_HOST or the default socket; must answer at start), none (takes no
     * leases), or memory: a simulation runtime (sim/runtime.ts) whose "containers" are TCP servers in this process
     * answering HTTP 200, for networks of real processes where no engine is reachable (sim/netns). Not for real use.
     */
    containers: z.enum(['docker', 'memory', 'none']).default('docker'),
    /** Benchmark job at registration: full (≈ 17 s), quick (≈ 2 s) or skip. Cached per inventory. */
    benchmark: z.enum(['full', 'quick', 'skip']).default('full'),
    /** Stake locked on the ledger at registration, in tokens. */
    stake: tokenAmount.default('100'),
    /**
     * How often the signed provider record is put into the DHT again once settled, ms (it
     * outlives record expiry and routing-table churn that way). Each put is a DHT walk and 20
     * stores, so N providers make N of them per interval. The simulator stretches it with its
     * time dilation.
     */
    recordRepublishMs: z.number().int().min(10_000).max(7 * 24 * 3_600_000).default(DEFAULT_RECORD_REPUBLISH_MS),
    /** Prices per hour, in tokens: per CPU, per GiB of memory, per GPU (by model id, or "default"). */
    prices: z.object({
      cpuHour: tokenAmount.default('0.02'),
      memoryGiBHour: tokenAmount.default('0.005'),
      gpuHour: z.record(z.string().regex(/^[a-z0-9-]+$/, 'GPU model ids are lowercase, e.g. h100-sxm'), tokenAmount).default({ default: '1' })
    }).strict().prefault({})
  }).strict().prefault({}),
  checker: z.object({
    /** Stake locked on the ledger with the checker licence, in tokens. */
    stake: tokenAmount.default('50')
  }).strict().prefault({}),
  /** Proof of Physical Work: network-wide parameters, the same on every node of a network. */
  popw: z.object({
    /** Epoch length: probes, commit, reveal, then one settlement per epoch (devnet: 10 s). */
    epochMs: z.number().int().min(500).max(86_400_000).default(60_000),
    /** Checkers whose verdicts count per provider; an outcome needs ⌈2k/3⌉ of them to agree. */
    k: z.number().int().min(1).max(15).default(3),
    /** Checkers after the first k that probe too and replace an assigned one that is offline. */
    backups: z.number().int().min(0).max(5).default(1),
    /** Work of one seeded challenge at the claimed class's speed, ms (the deadline allows 3× plus round trips). */
    challengeMs: z.number().int().min(1).max(10_000).default(200),
    /**
     * Fixed part of a challenge's deadline, ms: expanding the matrices, hashing the rows, scheduling.
     * The simulator raises it (hundreds of providers share one core there).
     */
    challengeAllowanceMs: z.number().int().min(0).max(60_000).default(200),
    /** Bytes of the bandwidth probe (0: no bandwidth probe). */
    bandwidthBytes: z.number().int().min(0).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
    /** Paid from the treasury to a checker for each outcome it agreed with, in tokens. */
    reward: tokenAmount.default('0.1'),
    /** Taken from a provider's stake for each failing outcome, in tokens. */
    penalty: tokenAmount.default('1')
  }).strict().prefault({}),
  heartbeat: z.object({
    intervalMs: z.number().int().min(100).max(3_600_000).default(15_000),
    /** A provider is offline after this many missed heartbeats. */
    missedBeforeOffline: z.number().int().min(1).max(100).default(3)
  }).strict().prefault({})
}).strict().superRefine((c, ctx) => {
  // Here, not where the ledger opens, so the operator hears of it before the node's modules load.
  if (c.chain !== 'local' && c.peaq.escrow == null) ctx.addIssue({ code: 'custom', path: ['peaq', 'escrow'], message: PEAQ_ESCROW_MISSING })
})

export type NodeConfig = z.infer<typeof configSchema>

/** Defaults that depend on the role (and so are applied once the role is known). */
export function roleDefaults (role: string | undefined): Record<string, unknown> {
  const isGateway = role === 'gateway'
  return {
    dataDir: path.join(os.homedir(), '.kaisar', ROLES.includes(role as Role) ? role as string : 'node'),
    listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'],
    // The API is local-only except on gateways, whose API is the network's public front door.
    api: isGateway ? '0.0.0.0:8080' : '127.0.0.1:7001',
    ledgerHost: false,
    network: { relayServer: isGateway }
  }
}
