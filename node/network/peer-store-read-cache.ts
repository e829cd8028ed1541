// Every peer-store read takes the peer's read lock and decodes its whole stored record
// (addresses, a few dozen protocol strings, tags, metadata). A DHT server answers each query
// with the 20 closest peers it knows, one such read each (kad-dht's getClosestPeersOffline), and
// a busy server answers many queries about the same neighbourhood. With 100 nodes providing at
// once in the simulator, peer-store reads and their locks took ≈ 20 % of the process.
//
// This keeps each peer's decoded record for a short time (`ttlMs`) and lets concurrent reads
// of one peer share one load. What it may serve is only ever what the store held: any write to
// that peer through the store (merge, patch, save, delete; consumePeerRecord patches) drops the
// kept record, and a load that overlapped a write is handed to its waiters but not kept. The
// store's own expiry (addresses past their age, expired tags) shows at most `ttlMs` late.
// Each caller gets its own copy, so a caller that mutates what it got changes nothing kept.
import { raceSignal } from '../abort.js'
import type { AbortOptions, Peer, PeerData, PeerId, PeerStore } from '@libp2p/interface'

export interface PeerStoreReadStats {
  /** Reads answered from a kept record. */
  hits: number
  /** Reads that joined a load already under way. */
  joined: number
  /** Reads that loaded from the store. */
  loads: number
}

/** Peers kept at most; past it everything is forgotten at once. */
const MAX_PEERS = 8192

interface Load { promise: Promise<Peer>, stale: boolean }

function copyPeer (peer: Peer): Peer {
  return { ...peer, addresses: peer.addresses.slice(), protocols: peer.protocols.slice(), metadata: new Map(peer.metadata), tags: new Map(peer.tags) }
}

export function cachePeerStoreReads (peerStore: PeerStore, ttlMs = 2_000, now: () => number = performance.now.bind(performance)): PeerStoreReadStats {
  const stats: PeerStoreReadStats = { hits: 0, joined: 0, loads: 0 }
  const kept = new Map<string, { peer: Peer, at: number }>()
  const loading = new Map<string, Load>()
  const forget = (id: PeerId): void => {
    const key = id.toString()
    kept.delete(key)
    const load = loading.get(key)
    if (load != null) { load.stale = true; loading.delete(key) }
  }

  const get = peerStore.get.bind(peerStore)
  peerStore.get = async (id: PeerId, options?: AbortOptions): Promise<Peer> => {
    const key = id.toString()
    const entry = kept.get(key)
    if (entry != null && now() - entry.at < ttlMs) { stats.hits++; return copyPeer(entry.peer) }
    let load = loading.get(key)
    if (load != null) {
      stats.joined++
    } else {
      stats.loads++
      // No caller's signal on a shared load: one caller giving up must not fail the others.
      const started: Load = { promise: get(id), stale: false }
      load = started
      loading.set(key, started)
      started.promise.then(peer => {
        if (loading.get(key) === started) loading.delete(key)
        if (started.stale) return
        if (kept.size >= MAX_PEERS) kept.clear()
        kept.set(key, { peer, at: now() })
      }, () => {
        if (loading.get(key) === started) loading.delete(key)
      })
    }
    const peer = options?.signal != null ? await raceSignal(load.promise, options.signal) : await load.promise
    return copyPeer(peer)
  }

  const merge = peerStore.merge.bind(peerStore)
  const patch = peerStore.patch.bind(peerStore)
  const save = peerStore.save.bind(peerStore)
  const del = peerStore.delete.bind(peerStore)
  // Forgotten before the write (no read started from now on may be kept from before it) and after
  // (a read that started while the write waited for the peer's lock may have loaded the old record).
  const writing = async <T>(id: PeerId, write: () => Promise<T>): Promise<T> => {
    forget(id)
    try { return await write() } finally { forget(id) }
  }
  peerStore.merge = async (id: PeerId, data: PeerData, options?: AbortOptions): Promise<Peer> => await writing(id, async () => await merge(id, data, options))
  peerStore.patch = async (id: PeerId, data: PeerData, options?: AbortOptions): Promise<Peer> => await writing(id, async () => await patch(id, data, options))
  peerStore.save = async (id: PeerId, data: PeerData, options?: AbortOptions): Promise<Peer> => await writing(id, async () => await save(id, data, options))
  peerStore.delete = async (id: PeerId, options?: AbortOptions): Promise<void> => { await writing(id, async () => { await del(id, options) }) }
  return stats
}
