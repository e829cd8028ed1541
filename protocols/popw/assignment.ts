// Who checks whom (DESIGN §1.2): for each provider, the checkers ordered by
// SHA-256(epochSeed ‖ provider ‖ checker); the first `k` are assigned, the next `backups`
// stand by and replace an assigned checker that turns out to be offline. The seed comes from
// the ledger (a block hash nobody chooses) mixed with the epoch number, so every node derives
// the same order without talking, and no checker can pick the providers it checks.
import { createHash } from 'node:crypto'

/** A licensed checker or a registered provider as the epoch sees it. */
export interface Member {
  peerId: string
  /** PeerId multihash bytes: what is hashed and what verdicts carry. */
  key: Uint8Array<ArrayBuffer>
  /** Ledger address (SS58): where rewards go, whose stake is slashed. */
  address: string
}

export interface AssignmentParams {
  /** Checkers that count per provider (default 3). */
  k: number
  /** Checkers after the first k that probe too and replace an offline one (default 1). */
  backups: number
}

const enc = new TextEncoder()

function sha256 (...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** The epoch's seed: the ledger's randomness for the epoch's start, bound to the epoch number. */
export function epochSeed (ledgerSeed: Uint8Array, epoch: number): Uint8Array {
  return sha256(enc.encode('kaisar/popw/seed/1'), ledgerSeed, enc.encode(String(epoch)))
}

function compare (a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

/** Every checker in the provider's order: smallest SHA-256(seed ‖ provider ‖ checker) first. */
export function rankCheckers<M extends Member> (seed: Uint8Array, provider: Uint8Array, checkers: readonly M[]): M[] {
  return checkers
    .filter(c => compare(c.key, provider) !== 0)
    .map(c => ({ c, h: sha256(seed, provider, c.key) }))
    .sort((a, b) => compare(a.h, b.h))
    .map(x => x.c)
}

/** The checkers that probe `provider` this epoch: the k assigned, then the backups. */
export function candidates<M extends Member> (seed: Uint8Array, provider: Uint8Array, checkers: readonly M[], p: AssignmentParams): M[] {
  return rankCheckers(seed, provider, checkers).slice(0, p.k + p.backups)
}

/** Effective k: fewer checkers than k means every checker is assigned. */
export function effectiveK (checkerCount: number, k: number): number {
  return Math.min(k, checkerCount)
}

/** Verdicts that make an outcome: at least two thirds of the k assigned (2 of 3, 3 of 4, 4 of 5). */
export function quorum (k: number): number {
  return Math.ceil((2 * k) / 3)
}

/** Who settles the epoch: checkers ordered by SHA-256(seed ‖ "settle" ‖ checker); the first submits, the next fall back in turn. */
export function settlerOrder<M extends Member> (seed: Uint8Array, checkers: readonly M[]): M[] {
  const tag = enc.encode('settle')
  return checkers
    .map(c => ({ c, h: sha256(seed, tag, c.key) }))
    .sort((a, b) => compare(a.h, b.h))
    .map(x => x.c)
}
