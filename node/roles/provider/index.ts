// The provider role (DESIGN §1.1): hardware inventory and benchmark → signed ProviderRecord
// in the DHT → registration with stake on the ledger → capability keys provided in the DHT →
// heartbeats on gossip with the free capacity.
import { canonicalJson } from '../../../chain/local/codec.js'
import { providerCapabilities } from '../../../protocols/capabilities.js'
import { encodeBenchmark, encodeInventory, type HardwareInventory } from '../../hardware/schema.js'
import { libp2pBandwidthProbe } from '../../network/bandwidth.js'
import { VERSION } from '../../version.js'
import { CapabilityAdvertiser } from './capability-advertiser.js'
import { HardwareProfile } from './hardware-profile.js'
import { HeartbeatPublisher, type Capacity } from './heartbeat.js'
import { LeaseManager } from './lease-manager.js'
import { LeaseService } from './lease-service.js'
import { LeaseStore } from './lease-store.js'
import { RelayGrants } from './relay-grants.js'
import { ProviderRecordPublisher } from './record-publisher.js'
import { RoleRegistrar } from './registration.js'
import type { Ledger } from '../../../chain/ledger.js'
import type { Outbox } from '../../../chain/outbox.js'
import type { ProviderRecord } from '../../../protocols/records/provider-record.js'
import type { NodeConfig } from '../../config/schema.js'
import type { NodeIdentity } from '../../identity/keystore.js'
import type { Logger } from '../../log.js'
import type { GossipService } from '../../network/gossip/service.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { PeerRoles } from '../../network/peer-roles.js'
import type { SignedRecordStore } from '../../network/records/store.js'
import type { StateDb } from '../../store/state-db.js'
import type { ContainerRuntime } from '../../containers/runtime.js'
import type { NodeMetrics } from '../../metrics/registry.js'
import type { Startable } from '@libp2p/interface'

export interface ProviderRoleComponents {
  config: NodeConfig
  libp2p: KaisarLibp2p
  gossip: GossipService
  records: SignedRecordStore
  peerRoles: PeerRoles
  ledger: Ledger
  outbox: Outbox
  identity: NodeIdentity
  stateDb: StateDb
  logger: Logger
  metrics: NodeMetrics
  /** The container engine for leases (undefined: this provider takes no leases). */
  runtime?: ContainerRuntime
  /** Simulated hardware: used instead of probing or the inventory file. */
  inventory?: HardwareInventory
}

export interface LeaseUsage { cpus: number, memoryBytes: number, gpus: number, leases: number }

export interface ProviderRole {
  profile: HardwareProfile
  leases: LeaseManager
  publisher: ProviderRecordPublisher
  registrar: RoleRegistrar
  advertiser: CapabilityAdvertiser
  services: Array<[string, Startable]>
}

export function createProviderRole (c: ProviderRoleComponents): ProviderRole {
  const log = (subsystem: string): Logger => c.logger.child({ subsystem })
  let publisher: ProviderRecordPublisher | undefined
  const profile = new HardwareProfile({ stateDb: c.stateDb, logger: log('hardware') }, {
    inventoryFile: c.config.provider.inventoryFile,
    inventory: c.inventory,
    benchmark: c.config.provider.benchmark,
    networkProbe: async signal => {
      // Stop aborts the wait: a provider stopped before it met a gateway (its devnet gone, say)
      // would otherwise sit out the 10 s here before its process could exit.
      const gateway = await c.peerRoles.waitFor('gateway', 10_000, signal)
      return gateway != null ? libp2pBandwidthProbe(c.libp2p, gateway) : undefined
    },
    // The benchmark finished after the record was first signed: sign and put it again.
    onChange: () => { publisher?.republishSoon() }
  })
  const content = (): ProviderRecord => ({
    wallet: c.identity.wallet.address,
    region: c.config.region,
    softwareVersion: VERSION,
    addresses: c.libp2p.getMultiaddrs().map(ma => ma.toString()),
    inventoryJson: encodeInventory(profile.inventory),
    benchmarkJson: profile.benchmark != null ? encodeBenchmark(profile.benchmark) : '',
    pricesJson: canonicalJson(c.config.provider.prices)
  })
  publisher = new ProviderRecordPublisher({ records: c.records, logger: log('provider-record') }, { content, republishMs: c.config.provider.recordRepublishMs })
  // Addresses are part of the record: a relayed provider learns its address only once a relay reserved a slot.
  const onAddresses = (): void => { publisher?.republishSoon() }
  const registrar = new RoleRegistrar({ ledger: c.ledger, outbox: c.outbox, wallet: c.identity.wallet, logger: log('registration') }, {
    role: 'provider', peerId: c.libp2p.peerId.toString(), stake: c.config.provider.stake
  })
  const advertiser = new CapabilityAdvertiser({ libp2p: c.libp2p, logger: log('capabilities') }, () => {
    const cap = profile.capacity
    return providerCapabilities({ gpuModels: cap.gpuModels, gpuClasses: cap.gpuClasses, region: c.config.region })
  })
  const store = new LeaseStore(c.stateDb)
  const relayGrants = new RelayGrants(c.libp2p, () => store.active().filter(l => l.status === 'running'), log('relay-grants'))
  const leases = new LeaseManager({
    config: c.config, store, runtime: c.runtime, ledger: c.ledger, outbox: c.outbox, profile,
    wallet: c.identity.wallet, privateKey: c.identity.privateKey, peerId: c.libp2p.peerId.toString(), logger: log('leases'),
    metrics: c.metrics, onRunning: l => { relayGrants.grant(l) }, onEnded: l => { relayGrants.revoke(l) }
  })
  const leaseService = new LeaseService({
    libp2p: c.libp2p, leases, runtime: c.runtime, ledger: c.ledger, wallet: c.identity.wallet, logger: log('lease-protocol'), metrics: c.metrics,
    capacity: () => profile.capacity
  })
  const p = publisher
  const heartbeat = new HeartbeatPublisher({ gossip: c.gossip, logger: log('heartbeat') }, {
    intervalMs: c.config.heartbeat.intervalMs,
    capacity: (): Capacity => {
      const total = profile.capacity
      const used = leases.usage()
      return {
        freeCpus: Math.max(0, total.cpus - used.cpus),
        freeMemoryBytes: BigInt(Math.max(0, total.memoryBytes - used.memoryBytes)),
        freeGpus: Math.max(0, total.gpus - used.gpus),
        runningLeases: used.leases
      }
    },
    recordVersion: () => p.version,
    addresses: () => c.libp2p.getMultiaddrs()
  })
  return {
    profile,
    leases,
    publisher,
    registrar,
    advertiser,
    services: [
      ['address-watch', { start: () => { c.libp2p.addEventListener('self:peer:update', onAddresses) }, stop: () => { c.libp2p.removeEventListener('self:peer:update', onAddresses) } }],
      ['hardware', profile],
      ['provider-record', publisher],
      ['registration', registrar],
      ['leases', leases],
      ['lease-protocols', leaseService],
      ['relay-grants', relayGrants],
      ['capabilities', advertiser],
      ['heartbeat', heartbeat]
    ]
  }
}
