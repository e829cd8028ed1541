// @libp2p/peer-store locks each peer's record with a mortice read/write lock named by that peer's
// id, and mortice keeps its locks in one map per process, by name. So two libp2p nodes in one
// process that both know peer X share X's lock: one node's write about X waits for every other
// node's reads and writes of X. A deployment (one node per process) never notices. The simulator
// runs hundreds of nodes in a process, and every one of them knows the gateways, so they all
// queue on the gateways' few locks. In a 1,000-node start, dials to gateways sat for 26–29 s in
// the address lookup, the step that reads the peer store (sim/README.md, stop 20; that they were
// waiting on this lock is inferred from mortice's source, not measured).
//
// This gives one node's peer store lock names of its own (the node's peer id, then the peer's),
// so its locks order its own reads and writes only, as they do in a process of its own.
import createMortice, { type Mortice } from 'mortice'
import type { PeerId, PeerStore } from '@libp2p/interface'

/** What @libp2p/peer-store's PersistentStore keeps per locked peer (its `getLock` returns one). */
interface LockEntry { refs: number, lock: Mortice }

/** The part of @libp2p/peer-store's internals this replaces: `store.getLock` and the map it fills. */
interface LockingStore {
  getLock: (peerId: PeerId) => LockEntry
  locks: { get: (peerId: PeerId) => LockEntry | undefined, set: (peerId: PeerId, entry: LockEntry) => void }
}

function lockingStore (peerStore: PeerStore): LockingStore | undefined {
  const store = (peerStore as unknown as { store?: Partial<LockingStore> }).store
  if (store == null || typeof store.getLock !== 'function' || store.locks == null) return undefined
  if (typeof store.locks.get !== 'function' || typeof store.locks.set !== 'function') return undefined
  return store as LockingStore
}

/**
 * Names this peer store's locks `<scope>/<peer id>` instead of `<peer id>`. Returns false, and
 * changes nothing, where the peer store is not @libp2p/peer-store's (its internals moved).
 */
export function isolatePeerStoreLocks (peerStore: PeerStore, scope: string): boolean {
  const store = lockingStore(peerStore)
  if (store == null) return false
  // @libp2p/peer-store's own getLock, with the name scoped: the entry's refs and the store's
  // release (refs back to 0 → finalize, which forgets the name in mortice's map) are unchanged.
  store.getLock = (peerId: PeerId): LockEntry => {
    let entry = store.locks.get(peerId)
    if (entry == null) {
      entry = { refs: 0, lock: createMortice({ name: `${scope}/${peerId.toString()}`, singleProcess: true }) }
      store.locks.set(peerId, entry)
    }
    entry.refs++
    return entry
  }
  return true
}
