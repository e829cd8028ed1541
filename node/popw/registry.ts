// Each epoch's context, read off the ledger: the seed (the block at the epoch's start), the
// licensed checkers and the registered providers as of that block. Anything registered after
// the seed block waits for the next epoch, and a checker made ineligible later still counts
// for the epochs it was eligible in: every node, whenever it asks, gets the same answer.
import { LedgerUnavailableError, type CheckerLicence, type Ledger } from '../../chain/ledger.js'
import { KaisarError } from '../errors.js'
import { candidates, epochSeed, settlerOrder, type AssignmentParams, type Member } from '../../protocols/popw/assignment.js'
import { EpochSchedule, type EpochTimes } from '../../protocols/popw/epoch.js'
import { RegistrySnapshot } from './registry-snapshot.js'
import type { EpochView } from '../../protocols/popw/outcome.js'
import type { NodeConfig } from '../config/schema.js'
import type { Logger } from '../log.js'

export class EpochContextError extends KaisarError<{ code: 'EPOCH_CONTEXT_UNAVAILABLE', epoch: number }> {
  constructor (epoch: number, message: string) { super({ code: 'EPOCH_CONTEXT_UNAVAILABLE', epoch }, message) }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface Ranking { readonly list: readonly Member[], readonly keys: ReadonlySet<string> }

/**
 * Providers' candidates per epoch, for the whole process. A provider's ranking is a pure function
 * of the epoch's seed, the provider and the licensed checkers, so every node of a network computes
 * the same one: one SHA-256 per checker per provider. A checker needs all of them each epoch
 * (its duties), so it costs providers × checkers hashes a node; in the simulator hundreds of nodes
 * in one process repeated them, and at 1,000 nodes they took 55 % of a worker's 15 s profile at
 * an epoch's start (sim/README.md, stop 23). Keyed by the seed, k and backups, and the checkers
 * (ids and addresses): contexts that agree on all of them share the rankings. A context keeps its
 * own reference, so dropping an old epoch here only ends the sharing.
 */
const rankingsByEpoch = new Map<string, Map<string, Ranking>>()
const EPOCHS_RANKED = 8

function sharedRankings (seed: Uint8Array, checkers: readonly Member[], params: AssignmentParams): Map<string, Ranking> {
  const id = `${hex(seed)}|${params.k}+${params.backups}|${checkers.map(c => `${c.peerId}@${c.address}`).join(',')}`
  let rankings = rankingsByEpoch.get(id)
  if (rankings == null) {
    rankings = new Map()
    rankingsByEpoch.set(id, rankings)
    for (const old of rankingsByEpoch.keys()) { if (rankingsByEpoch.size <= EPOCHS_RANKED) break; rankingsByEpoch.delete(old) }
  }
  return rankings
}

export class EpochContext implements EpochView {
  readonly epoch: number
  readonly times: EpochTimes
  readonly seed: Uint8Array
  readonly seedHeight: number
  readonly checkers: readonly Member[]
  readonly providers: readonly Member[]
  readonly params: AssignmentParams
  private readonly checkerByKey: Map<string, Member>
  private readonly providerByKey: Map<string, Member>
  /** Per provider (hex key): its candidates, and their keys in hex for isCandidate (asked for every verdict and challenge); shared by the process. */
  private readonly ranked: Map<string, Ranking>
  /** Per checker: its duties (asked several times an epoch by the duty loop). */
  private readonly duties = new Map<string, readonly Member[]>()
  private settlerList?: Member[]

  constructor (init: { epoch: number, times: EpochTimes, seed: Uint8Array, seedHeight: number, checkers: Member[], providers: Member[], params: AssignmentParams }) {
    this.epoch = init.epoch
    this.times = init.times
    this.seed = init.seed
    this.seedHeight = init.seedHeight
    this.checkers = init.checkers
    this.providers = init.providers
    this.params = init.params
    this.checkerByKey = new Map(init.checkers.map(c => [hex(c.key), c]))
    this.providerByKey = new Map(init.providers.map(p => [hex(p.key), p]))
    this.ranked = sharedRankings(init.seed, init.checkers, init.params)
  }

  checker (key: Uint8Array): Member | undefined { return this.checkerByKey.get(hex(key)) }
  provider (key: Uint8Array): Member | undefined { return this.providerByKey.get(hex(key)) }

  /** The provider's candidates this epoch (k assigned, then the backups); cached. */
  candidatesOf (provider: Member): readonly Member[] {
    return this.rankingOf(provider).list
  }

  isCandidate (provider: Member, checker: Uint8Array): boolean {
    return this.rankingOf(provider).keys.has(hex(checker))
  }

  /**
   * Providers `checker` probes this epoch; cached. Finding them ranks every checker for every
   * provider (providers × checkers hashes), which a checker needs once an epoch, not once per look.
   */
  dutiesOf (checker: Uint8Array): readonly Member[] {
    const key = hex(checker)
    let list = this.duties.get(key)
    if (list == null) { list = this.providers.filter(p => this.rankingOf(p).keys.has(key)); this.duties.set(key, list) }
    return list
  }

  private rankingOf (provider: Member): Ranking {
    const key = hex(provider.key)
    let ranking = this.ranked.get(key)
    if (ranking == null) {
      const list = candidates(this.seed, provider.key, this.checkers, this.params)
      ranking = { list, keys: new Set(list.map(c => hex(c.key))) }
      this.ranked.set(key, ranking)
    }
    return ranking
  }

  settlers (): Member[] {
    this.settlerList ??= settlerOrder(this.seed, this.checkers)
    return this.settlerList
  }
}

/** Licensed at the seed block, with stake, and not yet made ineligible at it. */
export function countsAt (licence: Pick<CheckerLicence, 'stake' | 'licensedAt' | 'eligible' | 'ineligibleAt'>, height: number): boolean {
  return licence.licensedAt <= height && licence.stake > 0n && (licence.eligible || (licence.ineligibleAt ?? 0) > height)
}

export interface EpochRegistryInit {
  schedule: EpochSchedule
  params: AssignmentParams
  /** How long to keep asking a ledger that is behind or unreachable. */
  retryMs?: number
}

export class EpochRegistry {
  private readonly cache = new Map<number, Promise<EpochContext>>()
  private readonly done = new Map<number, EpochContext>()
  /** The registry as of the latest seed block asked for; each epoch reads only what changed since. */
  private readonly snapshot: RegistrySnapshot

  constructor (private readonly c: { ledger: Ledger, logger: Logger }, private readonly init: EpochRegistryInit) {
    this.snapshot = new RegistrySnapshot(c.ledger)
  }

  get schedule (): EpochSchedule { return this.init.schedule }
  get params (): AssignmentParams { return this.init.params }

  /** The context if it is loaded already. */
  peek (epoch: number): EpochContext | undefined { return this.done.get(epoch) }

  /** The epoch's context, loaded once (concurrent callers share the load; a failed load is retried by the next caller). */
  async context (epoch: number): Promise<EpochContext> {
    let p = this.cache.get(epoch)
    if (p == null) {
      p = this.load(epoch)
      this.cache.set(epoch, p)
      p.then(ctx => { this.done.set(epoch, ctx) }, () => { if (this.cache.get(epoch) === p) this.cache.delete(epoch) })
      for (const e of this.cache.keys()) if (e < epoch - 16) { this.cache.delete(e); this.done.delete(e) }
    }
    return await p
  }

  private async load (epoch: number): Promise<EpochContext> {
    const { ledger } = this.c
    const times = this.init.schedule.times(epoch)
    const deadline = Date.now() + (this.init.retryMs ?? this.init.schedule.epochMs)
    for (;;) {
      try {
        const { seed, height } = await ledger.seedAt(times.start)
        // Records are current, not as of the seed block; the filters below make them so (a
        // registration's height and a licence's heights never change once written).
        await this.snapshot.atLeast(height)
        return new EpochContext({
          epoch,
          times,
          seed: epochSeed(Buffer.from(seed.slice(2), 'hex'), epoch),
          seedHeight: height,
          checkers: this.snapshot.checkerList().filter(c => countsAt(c.licence, height)).map(c => c.member),
          providers: this.snapshot.providerList().filter(p => p.registeredAt <= height).map(p => p.member),
          params: this.init.params
        })
      } catch (err) {
        // The ledger has not reached the epoch yet, or is briefly unreachable: ask again.
        if (!(err instanceof LedgerUnavailableError) || Date.now() > deadline) {
          throw new EpochContextError(epoch, `no context for epoch ${epoch}: ${(err as Error).message}`)
        }
        await new Promise(resolve => setTimeout(resolve, err.code === 'LEDGER_NOT_YET' ? 25 : 250))
      }
    }
  }
}

/** The registry for a node's configured epochs (the same on every node of a network). */
export function epochRegistry (c: { ledger: Ledger, logger: Logger }, popw: NodeConfig['popw']): EpochRegistry {
  return new EpochRegistry(c, { schedule: new EpochSchedule(popw.epochMs), params: { k: popw.k, backups: popw.backups } })
}
