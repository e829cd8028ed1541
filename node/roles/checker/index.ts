// The checker role (DESIGN §1.2–1.4): a licence with stake on the ledger (through the outbox),
// then, every epoch, probes of the providers it is assigned to, commit and reveal of its
// verdicts on kaisar/popw/1, and the epoch's settlement when it is its turn. Following the
// epochs (validation, outcomes, settled proofs, scores) is the PopwService's, which gateways
// run too; this role adds the work only a licensed checker does.
import { RoleRegistrar } from '../provider/registration.js'
import { CheckerDuty, type CheckerHooks } from './duty.js'
import { Prober } from './prober.js'
import { Settler } from './settler.js'
import type { Ledger } from '../../../chain/ledger.js'
import type { Outbox } from '../../../chain/outbox.js'
import type { NodeConfig } from '../../config/schema.js'
import type { NodeIdentity } from '../../identity/keystore.js'
import type { Logger } from '../../log.js'
import type { GossipService } from '../../network/gossip/service.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { SignedRecordStore } from '../../network/records/store.js'
import type { PopwMetrics } from '../../popw/metrics.js'
import type { PopwService } from '../../popw/service.js'
import type { ProviderTable } from '../../services/provider-table.js'
import type { Startable } from '@libp2p/interface'

export type { CheckerHooks }

export interface CheckerRoleComponents {
  config: NodeConfig
  libp2p: KaisarLibp2p
  gossip: GossipService
  records: SignedRecordStore
  ledger: Ledger
  outbox: Outbox
  identity: NodeIdentity
  logger: Logger
  popw: PopwService
  popwMetrics: PopwMetrics
  /** The live provider table (heartbeats): where providers listen. */
  providerTable: ProviderTable
  /** Test-only misbehaviour (the simulator's lying checkers); see CheckerHooks. */
  hooks?: CheckerHooks
}

export interface CheckerRole {
  registrar: RoleRegistrar
  prober: Prober
  duty: CheckerDuty
  settler: Settler
  services: Array<[string, Startable]>
}

export function createCheckerRole (c: CheckerRoleComponents): CheckerRole {
  const log = (subsystem: string): Logger => c.logger.child({ subsystem })
  const registrar = new RoleRegistrar({ ledger: c.ledger, outbox: c.outbox, wallet: c.identity.wallet, logger: log('registration') }, {
    role: 'checker', peerId: c.libp2p.peerId.toString(), stake: c.config.checker.stake
  })
  const prober = new Prober({ libp2p: c.libp2p, ledger: c.ledger, records: c.records, metrics: c.popwMetrics, heartbeatAddresses: peer => c.providerTable.addressesOf(peer.toString()) }, { challengeMs: c.config.popw.challengeMs, bandwidthBytes: c.config.popw.bandwidthBytes, challengeAllowanceMs: c.config.popw.challengeAllowanceMs })
  const duty = new CheckerDuty({ libp2p: c.libp2p, privateKey: c.identity.privateKey, popw: c.popw, prober, logger: log('checker'), metrics: c.popwMetrics }, { hooks: c.hooks })
  const settler = new Settler({ libp2p: c.libp2p, ledger: c.ledger, outbox: c.outbox, popw: c.popw, wallet: c.identity.wallet.address, logger: log('settler'), metrics: c.popwMetrics }, c.config.popw)
  return {
    registrar,
    prober,
    duty,
    settler,
    services: [
      ['registration', registrar],
      ['checker-duty', duty],
      ['settler', settler]
    ]
  }
}
