// A network partition inside the simulator: the run's nodes fall into two groups, A (the side of
// the ledger host) and B, that cannot reach each other while the network is split. The memory
// transport has no links to cut, so each node gets a libp2p ConnectionGater from `gater`: while
// split it refuses to dial a peer of the other group and refuses every connection with one,
// inbound or outbound, direct or relayed (the gater sees the remote peer after the handshake
// whatever the path). `split` also closes the connections already open across, as a cut cable
// would; `heal` lifts the refusal and lets the nodes' own dialers reconnect.
import type { ConnectionGater, PeerId } from '@libp2p/interface'

export type Side = 'a' | 'b'

/** The part of a libp2p node the partition needs: its connections (to count and to cut). */
export interface PartitionedNode {
  peerId: PeerId
  getConnections: () => Array<{ remotePeer: PeerId, abort: (err: Error) => void }>
}

export class Partition {
  private readonly sideByPeer = new Map<string, Side>()
  private active = false

  /** `groupB`: names (the schedule's node ids, `user-N` for users) of the nodes cut off from the ledger host. */
  constructor (private readonly groupB: ReadonlySet<string>) {}

  sideOf (name: string): Side { return this.groupB.has(name) ? 'b' : 'a' }

  /** Ties a running node's peer id to its name's side: gaters decide by the remote peer id. */
  bind (name: string, peerId: string): void { this.sideByPeer.set(peerId, this.sideOf(name)) }

  sideOfPeer (peerId: string): Side | undefined { return this.sideByPeer.get(peerId) }

  get isSplit (): boolean { return this.active }

  /** Both peers known, on different sides, and the network split: they cannot reach each other now. */
  separates (a: string, b: string): boolean {
    if (!this.active) return false
    const sa = this.sideByPeer.get(a)
    const sb = this.sideByPeer.get(b)
    return sa != null && sb != null && sa !== sb
  }

  /**
   * The gater of the node named `name`. A peer the partition does not know passes: every node
   * and user of a run is bound before the split, so that is only a peer from outside the run.
   */
  gater (name: string): ConnectionGater {
    const self = this.sideOf(name)
    const deny = (peer: PeerId): boolean => {
      if (!this.active) return false
      const other = this.sideByPeer.get(peer.toString())
      return other != null && other !== self
    }
    return {
      denyDialPeer: deny,
      denyOutboundConnection: deny,
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny,
      denyInboundUpgradedConnection: deny,
      denyOutboundUpgradedConnection: deny
    }
  }

  /** Splits the network: from now on no connection across, and the open ones are cut. Returns how many were cut. */
  split (nodes: Iterable<PartitionedNode>): number {
    this.active = true
    let cut = 0
    const reason = new Error('network partition')
    for (const node of nodes) {
      const self = node.peerId.toString()
      for (const conn of node.getConnections()) {
        if (!this.separates(self, conn.remotePeer.toString())) continue
        // abort, not close: a cut link sends no goodbye, and a graceful close would wait on
        // streams in flight. Each end is cut from its own side (the other end may be the one
        // counted here too: one connection between two nodes of the run counts twice).
        conn.abort(reason)
        cut++
      }
    }
    return cut
  }

  heal (): void { this.active = false }

  /** Open connections across the two sides (each end counts), whether split or not. */
  crossConnections (nodes: Iterable<PartitionedNode>): number {
    let n = 0
    for (const node of nodes) {
      const self = this.sideByPeer.get(node.peerId.toString())
      if (self == null) continue
      for (const conn of node.getConnections()) {
        const other = this.sideByPeer.get(conn.remotePeer.toString())
        if (other != null && other !== self) n++
      }
    }
    return n
  }
}
