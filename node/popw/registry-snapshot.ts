// A node's own copy of the ledger's registry (providers' registrations, checkers' licences),
// kept current by asking only for what changed since the block it has. Every epoch context needs
// the registry as of the epoch's seed block; reading all of it each epoch cost every node the
// whole registry (≈ 180 KB of JSON at 1,000 providers) and the ledger host a scan and a reply per
// node per epoch, and a registry of more than ≈ 5,800 providers would not fit one 1 MiB reply.
import { peerIdFromString } from '@libp2p/peer-id'
import { LedgerUnavailableError, registryPages, type CheckerLicence, type Ledger } from '../../chain/ledger.js'
import { keyOf } from '../../protocols/popw/verdict.js'
import type { Member } from '../../protocols/popw/assignment.js'

/**
 * Registrations already read, as members: parsing each peer id (base58, then the multihash) was
 * most of what reading the registry cost a node. In the simulator one process holds hundreds of
 * nodes reading the same registry, and 1,000 of them spent ≈ 9 % of a worker here (sim/README.md,
 * stop 23); the members are shared, and nothing writes to them. Snapshots keep these shared
 * objects (and their strings), not their own copies of the records.
 */
const members = new Map<string, Member | null>()
const MEMBERS_KEPT = 100_000

function member (reg: { peerId: string, address: string }): Member | undefined {
  const id = `${reg.peerId} ${reg.address}`
  let m = members.get(id)
  if (m === undefined) {
    try { m = { peerId: reg.peerId, key: keyOf(peerIdFromString(reg.peerId)), address: reg.address } } catch { m = null }
    if (members.size >= MEMBERS_KEPT) members.clear()
    members.set(id, m)
  }
  return m ?? undefined
}

export interface ProviderEntry { readonly member: Member, readonly registeredAt: number }
export interface CheckerEntry { readonly member: Member, readonly licence: Pick<CheckerLicence, 'stake' | 'licensedAt' | 'eligible' | 'ineligibleAt'> }

export class RegistrySnapshot {
  /** The block the copy is current as of; -1 before the first read. */
  private syncedTo = -1
  private providers = new Map<string, ProviderEntry>()
  private checkers = new Map<string, CheckerEntry>()
  /** The sorted lists, until the next change: most epochs change nothing, and hundreds of nodes of a simulator process would each sort a thousand addresses. */
  private sorted?: { providers: ProviderEntry[], checkers: CheckerEntry[] }
  private syncing?: Promise<void>

  constructor (private readonly ledger: Pick<Ledger, 'registryChanges'>) {}

  get height (): number { return this.syncedTo }

  /**
   * Brings the copy up to block `height` or later; asks the ledger only when it is behind.
   * LEDGER_NOT_YET when the ledger's answer is still older than `height`.
   */
  async atLeast (height: number): Promise<void> {
    if (this.syncedTo >= height) return
    this.syncing ??= this.sync().finally(() => { this.syncing = undefined })
    await this.syncing
    if (this.syncedTo < height) throw new LedgerUnavailableError(`the registry is at block ${this.syncedTo}, not yet ${height}`, 'LEDGER_NOT_YET')
  }

  /**
   * The providers and checkers (registrations whose peer id does not parse are left out), sorted by
   * address as the ledger lists them: every node builds the same epoch context in the same order.
   */
  providerList (): readonly ProviderEntry[] { return this.lists().providers }
  checkerList (): readonly CheckerEntry[] { return this.lists().checkers }

  private lists (): { providers: ProviderEntry[], checkers: CheckerEntry[] } {
    this.sorted ??= { providers: sortedValues(this.providers), checkers: sortedValues(this.checkers) }
    return this.sorted
  }

  /**
   * One round of pages. Changes are merged as they come (each record is current as of its page's
   * block or later, so a newer one replaces an older one, and a round cut short is asked again);
   * a full answer builds a new copy that replaces the old one once all its pages are in.
   */
  private async sync (): Promise<void> {
    const since = this.syncedTo < 0 ? undefined : this.syncedTo
    let first: { height: number, full: boolean } | undefined
    let providers = this.providers
    let checkers = this.checkers
    for await (const page of registryPages(this.ledger, since)) {
      if (first === undefined) {
        first = { height: page.height, full: page.full }
        if (page.full) { providers = new Map(); checkers = new Map() }
      }
      if (page.providers.length > 0 || page.checkers.length > 0) this.sorted = undefined
      for (const r of page.providers) {
        const m = member(r)
        if (m == null) providers.delete(r.address)
        else providers.set(m.address, { member: m, registeredAt: r.registeredAt })
      }
      for (const l of page.checkers) {
        const m = member(l)
        if (m == null) checkers.delete(l.address)
        else checkers.set(m.address, { member: m, licence: { stake: l.stake, licensedAt: l.licensedAt, eligible: l.eligible, ...(l.ineligibleAt !== undefined ? { ineligibleAt: l.ineligibleAt } : {}) } })
      }
    }
    if (first === undefined) return // registryPages yields at least one page
    const { height, full } = first
    if (full) this.sorted = undefined
    this.providers = providers
    this.checkers = checkers
    // Changes after the first page's block may or may not be in the later pages: they come again next time.
    this.syncedTo = height
  }
}

function sortedValues<T> (map: Map<string, T>): T[] {
  return [...map.keys()].sort().map(k => map.get(k) as T)
}
