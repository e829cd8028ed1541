// A provider reached through relays (it listens on /p2p-circuit) tells each relay gateway
// which peers hold its running leases, so their tunnels are not cut by the relay's default
// limits; and takes the grant back when the lease ends. Grants are re-sent every minute
// (a gateway restarted or a reservation moved to another relay).
import { peerIdFromString } from '@libp2p/peer-id'
import { PROTOCOLS } from '../../../protocols/ids.js'
import { request } from '../../network/reqresp.js'
import { relayPeerOf } from '../../network/splice/service.js'
import type { LeaseRecord } from './lease-store.js'
import type { Logger } from '../../log.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { Startable } from '@libp2p/interface'

export class RelayGrants implements Startable {
  private timer?: NodeJS.Timeout

  constructor (private readonly libp2p: KaisarLibp2p, private readonly running: () => LeaseRecord[], private readonly log: Logger) {}

  async start (): Promise<void> {
    // The gateways relaying this provider may also splice to it (protocols/splice/messages.ts).
    await this.libp2p.services.splice?.acceptOffers(peer => this.relays().includes(peer.toString()), this.log)
    this.timer = setInterval(() => { for (const l of this.running()) this.grant(l) }, 60_000)
    this.timer.unref()
  }

  async stop (): Promise<void> { clearInterval(this.timer) }

  /** Relay gateways this provider has a reservation on (from its own /p2p-circuit addresses). */
  relays (): string[] {
    const out = new Set<string>()
    for (const ma of this.libp2p.getMultiaddrs()) {
      const relay = relayPeerOf(ma)
      if (relay != null) out.add(relay)
    }
    return [...out]
  }

  grant (lease: LeaseRecord): void {
    this.send({ op: 'allow', peer: lease.userPeer, until: lease.expiresAt ?? Date.now() })
  }

  revoke (lease: LeaseRecord): void {
    // Grants are per holder: another lease of the same user still running keeps its access.
    if (this.running().some(l => l.userPeer === lease.userPeer && l.leaseId !== lease.leaseId)) return
    this.send({ op: 'revoke', peer: lease.userPeer })
  }

  private send (body: { op: 'allow', peer: string, until: number } | { op: 'revoke', peer: string }): void {
    for (const relay of this.relays()) {
      request(this.libp2p, peerIdFromString(relay), PROTOCOLS.relayGrant, body, { timeoutMs: 10_000 })
        .catch(err => { this.log.warn({ relay, err: (err as Error).message }, 'relay grant failed') })
    }
  }
}
