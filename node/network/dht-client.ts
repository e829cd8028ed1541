// A DHT client keeps no connection alive for the peers closest to its own id.
//
// kad-dht tags the 20 peers closest to a node's id `keep-alive`, so libp2p dials them again
// whenever they disconnect. A server needs that: its neighbourhood is where the records near
// its id are stored and looked for. A client stores nothing and is in nobody's routing table,
// so the tags do nothing for it but hold 20 connections open on the servers, and they hold
// them against the servers' connection trimmer (connection-trimmer.ts), which would otherwise
// close them when idle and see them dialled again at once. With many clients per server that
// alone fills a server: at 500 nodes, 460 clients over 40 servers are 230 pinned connections
// each, against a cap of 300 (sim/README.md, stop 18).
//
// kad-dht has no option for the set's size (its routing table takes one, the service does not
// pass it on), so this sets it on the routing table before the service starts, and fails
// loudly if a kad-dht upgrade moved it.
import type { KadDHT } from '@libp2p/kad-dht'

interface ClosestPeerTagger { peerSetSize: number }

export function keepNoClosestPeersAlive (dht: KadDHT): void {
  const tagger = (dht as unknown as { routingTable?: { closestPeerTagger?: Partial<ClosestPeerTagger> } }).routingTable?.closestPeerTagger
  if (typeof tagger?.peerSetSize !== 'number') {
    throw new Error('kad-dht internals changed: routingTable.closestPeerTagger.peerSetSize not found (node/network/dht-client.ts)')
  }
  tagger.peerSetSize = 0
}
