// libp2p's connection manager lists all its connections (`getConnections()` without a peer) by
// concatenating each peer's array onto a new one in turn: for n peers that copies n²/2 elements.
// It runs that on every inbound connection (the accept check counts them), in its pruner on
// every new connection, and our trimmer does too (connection-trimmer.ts). A node with a handful
// of peers never notices; a gateway or DHT server with 1,000 connections copies ≈ 500,000
// elements each time, three times per connection it accepts: 3.8 % of a simulator worker's
// samples while 1,000 nodes started, all in this loop (sim/README.md, stop 27).
//
// This lists them in one pass, in the same order (peers in map order, each peer's connections in
// its own order), so every caller sees what it saw before.
import type { Connection, PeerId } from '@libp2p/interface'

/** The part of libp2p's connection manager this replaces (both are on its public interface). */
interface ConnectionLister {
  getConnections: (peerId?: PeerId) => Connection[]
  getConnectionsMap: () => { values: () => Iterable<Connection[]> }
}

/** Lists all of `node`'s connections in linear time. Returns false, changing nothing, where the node's internals moved. */
export function listConnectionsLinearly (node: unknown): boolean {
  const manager = (node as { components?: { connectionManager?: Partial<ConnectionLister> } }).components?.connectionManager
  if (typeof manager?.getConnections !== 'function' || typeof manager.getConnectionsMap !== 'function') return false
  const byPeer = manager.getConnections.bind(manager)
  const map = manager.getConnectionsMap.bind(manager)
  manager.getConnections = (peerId?: PeerId): Connection[] => {
    if (peerId != null) return byPeer(peerId)
    const all: Connection[] = []
    for (const conns of map().values()) for (const conn of conns) all.push(conn)
    return all
  }
  return true
}
