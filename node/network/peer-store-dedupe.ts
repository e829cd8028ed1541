// libp2p merges into the peer store on every stream it opens or accepts (the stream's protocol)
// and for every peer a DHT response names (its addresses, through peer discovery). Almost all
// of those merges change nothing, yet each one takes the peer's lock, decodes its stored record,
// re-encodes and writes it. Among 50 nodes providing their capabilities that was the largest
// single cost after Noise (≈ 15 % of the CPU, 300–500 merges a second). This wraps one peer
// store so that a merge repeating one made for the same peer within `ttlMs` (and with no other
// write to that peer since) reads the peer instead of writing it.
//
// What is skipped is only ever a repeat: the first merge of any protocol or address set goes
// through, any patch, save, delete or other merge of that peer forgets what was remembered for
// it, and after `ttlMs` the merge is made again (so address observation times still refresh).
import type { AbortOptions, Peer, PeerData, PeerId, PeerStore } from '@libp2p/interface'

export interface PeerStoreDedupeStats {
  /** Merges that wrote (first seen, expired, or a shape this does not remember). */
  written: number
  /** Merges answered by a read because they repeated a recent one. */
  skipped: number
}

/** Peers remembered at most; past it everything is forgotten at once (a repeat then writes again). */
const MAX_PEERS = 8192

/** The repeatable part of a merge: only `{ protocols }` or `{ multiaddrs }` alone; anything else is never skipped. */
function repeatKey (data: Partial<PeerData>): string | undefined {
  const keys = Object.keys(data)
  if (keys.length !== 1) return undefined
  if (keys[0] === 'protocols' && data.protocols != null) return `p ${[...data.protocols].sort().join(' ')}`
  if (keys[0] === 'multiaddrs' && data.multiaddrs != null) return `a ${data.multiaddrs.map(a => a.toString()).sort().join(' ')}`
  return undefined
}

export function dedupePeerStoreMerges (peerStore: PeerStore, ttlMs = 60_000, now: () => number = Date.now): PeerStoreDedupeStats {
  const stats: PeerStoreDedupeStats = { written: 0, skipped: 0 }
  /** peer → repeat key → when its merge was written. */
  const recent = new Map<string, Map<string, number>>()
  /** peer → sequence number of its last other write: a merge whose write overlapped one is not remembered. */
  const otherWrites = new Map<string, number>()
  let sequence = 0
  const forget = (id: PeerId): void => {
    const peer = id.toString()
    recent.delete(peer)
    if (otherWrites.size >= MAX_PEERS && !otherWrites.has(peer)) otherWrites.clear()
    otherWrites.set(peer, ++sequence)
  }

  const merge = peerStore.merge.bind(peerStore)
  const patch = peerStore.patch.bind(peerStore)
  const save = peerStore.save.bind(peerStore)
  const del = peerStore.delete.bind(peerStore)

  peerStore.merge = async (id: PeerId, data: PeerData, options?: AbortOptions): Promise<Peer> => {
    const key = repeatKey(data)
    if (key == null) {
      forget(id)
      stats.written++
      return await merge(id, data, options)
    }
    const peer = id.toString()
    const at = recent.get(peer)?.get(key)
    if (at != null && now() - at < ttlMs) {
      try {
        const found = await peerStore.get(id, options)
        stats.skipped++
        return found
      } catch {
        // Gone since (expired or deleted): write it again below.
      }
    }
    stats.written++
    const before = otherWrites.get(peer)
    const result = await merge(id, data, options)
    // A patch (say, identify replacing the protocol list) that ran while this merge waited for
    // the peer's lock may have undone it: remember nothing then.
    if (otherWrites.get(peer) !== before) return result
    if (recent.size >= MAX_PEERS && !recent.has(peer)) recent.clear()
    let keys = recent.get(peer)
    if (keys == null) { keys = new Map(); recent.set(peer, keys) }
    keys.set(key, now())
    return result
  }
  peerStore.patch = async (id: PeerId, data: PeerData, options?: AbortOptions): Promise<Peer> => { forget(id); return await patch(id, data, options) }
  peerStore.save = async (id: PeerId, data: PeerData, options?: AbortOptions): Promise<Peer> => { forget(id); return await save(id, data, options) }
  peerStore.delete = async (id: PeerId, options?: AbortOptions): Promise<void> => { forget(id); await del(id, options) }
  return stats
}
