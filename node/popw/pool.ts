// The commitments and reveals a node has accepted, per epoch. The gossip validator writes
// here on accept (so a second copy of a part is seen at once, even before any handler ran) and
// a node's own messages go in directly (gossipsub does not deliver them back). A reveal is
// stored only against its checker's earlier commitment: a reveal without one does not count.
import type { Verdict } from '../../protocols/popw/popw.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface EpochPool {
  commits: Map<string, Map<string, Uint8Array>>
  reveals: Map<string, Map<string, Verdict>>
  parts: Set<string>
}

export class CommitRevealPool {
  private readonly epochs = new Map<number, EpochPool>()

  private pool (epoch: number): EpochPool {
    let p = this.epochs.get(epoch)
    if (p == null) { p = { commits: new Map(), reveals: new Map(), parts: new Set() }; this.epochs.set(epoch, p) }
    return p
  }

  /** Whether this part of this checker's commit (or reveal) for the epoch was taken already. */
  seen (epoch: number, kind: 'commit' | 'reveal', checker: Uint8Array, part: number): boolean {
    return this.epochs.get(epoch)?.parts.has(`${kind}/${hex(checker)}/${part}`) ?? false
  }

  markSeen (epoch: number, kind: 'commit' | 'reveal', checker: Uint8Array, part: number): void {
    this.pool(epoch).parts.add(`${kind}/${hex(checker)}/${part}`)
  }

  addCommitments (epoch: number, checker: Uint8Array, entries: ReadonlyArray<{ provider: Uint8Array, commitment: Uint8Array }>): void {
    const p = this.pool(epoch)
    let mine = p.commits.get(hex(checker))
    if (mine == null) { mine = new Map(); p.commits.set(hex(checker), mine) }
    for (const e of entries) if (!mine.has(hex(e.provider))) mine.set(hex(e.provider), e.commitment)
  }

  commitment (epoch: number, checker: Uint8Array, provider: Uint8Array): Uint8Array | undefined {
    return this.epochs.get(epoch)?.commits.get(hex(checker))?.get(hex(provider))
  }

  /** Stores verdicts already checked against their commitments. */
  addReveals (epoch: number, checker: Uint8Array, verdicts: readonly Verdict[]): void {
    const p = this.pool(epoch)
    let mine = p.reveals.get(hex(checker))
    if (mine == null) { mine = new Map(); p.reveals.set(hex(checker), mine) }
    for (const v of verdicts) if (!mine.has(hex(v.provider))) mine.set(hex(v.provider), v)
  }

  committed (epoch: number, checker: Uint8Array, provider: Uint8Array): boolean {
    return this.commitment(epoch, checker, provider) != null
  }

  revealed (epoch: number, checker: Uint8Array, provider: Uint8Array): Verdict | undefined {
    return this.epochs.get(epoch)?.reveals.get(hex(checker))?.get(hex(provider))
  }

  /** Counts, for status and tests. */
  stats (epoch: number): { committers: number, revealers: number } {
    const p = this.epochs.get(epoch)
    return { committers: p?.commits.size ?? 0, revealers: p?.reveals.size ?? 0 }
  }

  prune (beforeEpoch: number): void {
    for (const e of this.epochs.keys()) if (e < beforeEpoch) this.epochs.delete(e)
  }
}
