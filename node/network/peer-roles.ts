// The role each connected peer announces (identify's agent version, `kaisar-node/<v> (<role>)`).
// A claim, not a proof: anything that pays or trusts checks the ledger's registration instead.
import { roleFromAgent } from '../roles/role.js'
import type { Role } from '../config/schema.js'
import type { IdentifyResult, Libp2p, PeerId, Startable } from '@libp2p/interface'

export type AnnouncedRole = Role | 'user'

export class PeerRoles implements Startable {
  private readonly agents = new Map<string, string>()

  constructor (private readonly libp2p: Libp2p) {
    this.onIdentify = this.onIdentify.bind(this)
  }

  async start (): Promise<void> {
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
  }

  async stop (): Promise<void> {
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
  }

  agent (peer: PeerId | string): string | undefined {
    return this.agents.get(peer.toString())
  }

  role (peer: PeerId | string): AnnouncedRole | undefined {
    return roleFromAgent(this.agent(peer))
  }

  /** Connected peers announcing `role`. */
  connected (role: AnnouncedRole): PeerId[] {
    const seen = new Set<string>()
    return this.libp2p.getConnections().map(c => c.remotePeer).filter(p => {
      const key = p.toString()
      if (seen.has(key) || this.role(key) !== role) return false
      seen.add(key)
      return true
    })
  }

  /** Waits up to `timeoutMs` for a connected peer in `role`. */
  async waitFor (role: AnnouncedRole, timeoutMs: number, signal?: AbortSignal): Promise<PeerId | undefined> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline && signal?.aborted !== true) {
      const peer = this.connected(role)[0]
      if (peer != null) return peer
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    return undefined
  }

  private onIdentify (evt: CustomEvent<IdentifyResult>): void {
    if (evt.detail.agentVersion != null) this.agents.set(evt.detail.peerId.toString(), evt.detail.agentVersion)
  }
}
