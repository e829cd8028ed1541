// An end user inside the simulator: the same parts as `kaisar-node order` (a DHT-client libp2p
// node, the remote ledger, discovery, the lease book) but on the run's transport and
// in-memory state, so `placeOrder` runs unchanged against the simulated network.
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryLevel } from 'memory-level'
import { pino } from 'pino'
import { RemoteLedger } from '../chain/local/protocol.js'
import { ephemeralIdentity } from '../node/identity/keystore.js'
import { NodeMetrics } from '../node/metrics/registry.js'
import { createNetwork } from '../node/network/libp2p.js'
import { SignedRecordStore } from '../node/network/records/store.js'
import { RecordVersionIndex, recordValidators } from '../node/network/records/validators.js'
import { Discovery } from '../node/services/discovery.js'
import { SIM_KEEP_ALIVE_MS } from './cluster.js'
import { UserNode } from '../node/user/user-node.js'
import { AGENT_PREFIX } from '../protocols/ids.js'
import { VERSION } from '../node/version.js'
import type { InProcessLinks } from '../node/network/in-process-links.js'
import type { StateDb } from '../node/store/state-db.js'
import type { ConnectionGater } from '@libp2p/interface'

/**
 * `gateways`: the gateways' addresses (…/p2p/<id>); the first hosts the ledger.
 * `connectionGater`: whom the user may connect to (a partitioned run's, sim/partition.ts).
 * `transport`: the run's ('tcp' when shards in other processes hold part of the network).
 * `links`: the run's in-process links, as every other node of the process has them. Without
 * them a user's dials went over kernel TCP with Noise: 8 users held 1,300 sockets of the runner
 * at 1,000 nodes, and their handshakes and encryption were ≈ 40 % of a worker in an 11 s stall
 * (sim/README.md, stop 31).
 */
export async function startSimUser (gateways: string[], ledgerHost: string, connectionGater?: ConnectionGater, transport: 'memory' | 'tcp' = 'memory', links?: InProcessLinks): Promise<UserNode> {
  const identity = await ephemeralIdentity()
  const stateDb: StateDb = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
  const libp2p = await createNetwork({
    privateKey: identity.privateKey, listen: [], transport, websockets: false, agentVersion: `${AGENT_PREFIX}${VERSION} (user)`,
    maxConnections: 200, inboundConnectionThreshold: 100, dhtServer: false, connectionMonitorMs: 0, keepAliveMs: SIM_KEEP_ALIVE_MS, relayServer: false, autonat: false, dcutr: false,
    records: recordValidators(new RecordVersionIndex(stateDb), new NodeMetrics()),
    connectionGater,
    ...(transport === 'tcp' && links != null ? { inProcessLinks: links } : {})
  })
  await libp2p.start()
  const dials = await Promise.allSettled(gateways.map(async g => await libp2p.dial(multiaddr(g), { signal: AbortSignal.timeout(10_000) })))
  if (dials.every(d => d.status === 'rejected')) {
    await libp2p.stop()
    throw new Error('a simulated user reached no gateway')
  }
  const logger = pino({ level: 'silent' })
  const records = new SignedRecordStore({ libp2p, privateKey: identity.privateKey, stateDb, metrics: new NodeMetrics(), logger })
  return UserNode.fromParts({
    gatewayPeers: gateways.map(g => multiaddr(g).getComponents().find(c => c.name === 'p2p')?.value ?? ''),
    identity,
    libp2p,
    ledger: new RemoteLedger(libp2p, { host: multiaddr(ledgerHost) }),
    discovery: new Discovery({ libp2p, records, logger }),
    stateDb,
    logger
  })
}
