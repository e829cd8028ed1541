// Proof of Physical Work as every checker and gateway follows it (DESIGN §1.3–1.4): it takes
// part in kaisar/popw/1 (validating every commitment and reveal), builds each epoch's outcomes
// from what it accepted once the reveals are in, waits for the epoch's settlement on the ledger,
// and keeps the settled outcomes (with their proofs) and the provider scores that follow from
// them. When the settled root is not the one it built (it missed a message), it fetches the
// outcomes from the submitter over /kaisar/outcomes/1.0.0 and keeps them only if each one
// checks out and together they hash to the settled root.
import { peerIdFromString } from '@libp2p/peer-id'
import { toHex, type MerkleTree } from '../../chain/merkle.js'
import { PROTOCOLS } from '../../protocols/ids.js'
import type { EpochSchedule } from '../../protocols/popw/epoch.js'
import { checkOutcome, decideOutcome, Outcome, outcomeTree, sortOutcomes } from '../../protocols/popw/outcome.js'
import { outcomesReplySchema, outcomesRequestSchema } from '../../protocols/popw/messages.js'
import { resultOf } from '../../protocols/popw/verdict.js'
import { popwTopic } from '../network/gossip/topics.js'
import { registerReqResp, request } from '../network/reqresp.js'
import { CommitRevealPool } from './pool.js'
import { epochRegistry, type EpochContext, type EpochRegistry } from './registry.js'
import { ProviderScores } from './scores.js'
import { OutcomeStore, type SettledEpoch } from './store.js'
import { EpochTicker } from './ticker.js'
import { validatePopwMessage } from './validation.js'
import type { EpochSettlement, Hex, Ledger } from '../../chain/ledger.js'
import type { PopwMessage } from '../../protocols/popw/popw.js'
import type { NodeConfig } from '../config/schema.js'
import type { Logger } from '../log.js'
import type { GossipService } from '../network/gossip/service.js'
import type { KaisarLibp2p } from '../network/libp2p.js'
import type { StateDb } from '../store/state-db.js'
import type { PopwMetrics } from './metrics.js'
import type { Startable } from '@libp2p/interface'

/** The outcomes this node built for an epoch from the reveals it accepted. */
export interface LocalEpoch {
  epoch: number
  ctx: EpochContext
  /** In leaf order. */
  outcomes: Outcome[]
  tree: MerkleTree
  root: Hex
}

export interface PopwServiceComponents {
  libp2p: KaisarLibp2p
  gossip: GossipService
  ledger: Ledger
  stateDb: StateDb
  logger: Logger
  metrics: PopwMetrics
}

export interface PopwServiceInit {
  config: NodeConfig['popw']
  now?: () => number
}

/** Epochs whose settlement this node still waits for, before it gives up on one. */
const MAX_PENDING_EPOCHS = 20
const SCORE_HISTORY_EPOCHS = 500

export class PopwService implements Startable {
  readonly schedule: EpochSchedule
  readonly registry: EpochRegistry
  readonly pool = new CommitRevealPool()
  readonly store: OutcomeStore
  readonly scores = new ProviderScores()
  private readonly c: PopwServiceComponents
  private readonly now: () => number
  private readonly ticker: EpochTicker
  private readonly local = new Map<number, LocalEpoch>()
  private readonly localWaiters = new Map<number, Array<(l: LocalEpoch | undefined) => void>>()
  private readonly pending = new Map<number, { tries: number }>()
  private unsubscribe?: () => void
  private reconciling?: Promise<void>
  private running = false
  private lastSettled = -1

  constructor (components: PopwServiceComponents, init: PopwServiceInit) {
    this.c = components
    this.now = init.now ?? Date.now
    this.registry = epochRegistry({ ledger: components.ledger, logger: components.logger }, init.config)
    this.schedule = this.registry.schedule
    this.store = new OutcomeStore(components.stateDb)
    this.ticker = new EpochTicker(this.schedule, this.now)
      .on(t => t.outcomesAt, epoch => { void this.buildOutcomes(epoch) })
      .on(t => t.outcomesAt + Math.round(this.schedule.epochMs / 2), () => { void this.reconcile() })
  }

  /** kaisar/popw/1 with this node's validator. */
  private readonly topic = popwTopic(async (msg: PopwMessage, ctx) => await validatePopwMessage(msg, ctx, { registry: this.registry, pool: this.pool, now: this.now }))

  async start (): Promise<void> {
    this.running = true
    this.c.gossip.register(this.topic)
    await registerReqResp(this.c.libp2p, {
      protocol: PROTOCOLS.outcomes,
      schema: outcomesRequestSchema,
      logger: this.c.logger,
      handle: async (req) => {
        const wire = (outcomes: readonly Outcome[]): string[] => outcomes.map(o => Buffer.from(Outcome.encode(o)).toString('base64'))
        // Only settled epochs: a user's scheduler checks each against the root on the ledger.
        if ('recent' in req) return { epochs: (await this.store.recent(req.recent)).map(s => ({ epoch: s.epoch, outcomes: wire(s.outcomes) })) }
        const outcomes = (await this.store.get(req.epoch))?.outcomes ?? this.local.get(req.epoch)?.outcomes ?? []
        return { epoch: req.epoch, outcomes: wire(outcomes) }
      }
    })
    for (const s of (await this.store.recent(SCORE_HISTORY_EPOCHS)).reverse()) {
      this.scores.apply(s.epoch, s.outcomes)
      this.lastSettled = Math.max(this.lastSettled, s.epoch)
    }
    this.unsubscribe = this.c.ledger.subscribe(event => { if (event.kind === 'block' && event.txCount > 0) void this.reconcile() })
    this.ticker.start()
  }

  async stop (): Promise<void> {
    this.running = false
    this.ticker.stop()
    this.unsubscribe?.()
    await this.c.libp2p.unhandle(PROTOCOLS.outcomes)
    for (const list of this.localWaiters.values()) for (const w of list) w(undefined)
    this.localWaiters.clear()
    await this.reconciling
  }

  /** Signs and publishes a commit or reveal (a checker's duty puts its own into the pool itself). */
  async publish (msg: PopwMessage): Promise<number> {
    return await this.c.gossip.publish(this.topic, msg)
  }

  /** The outcomes this node built for `epoch`, once built (undefined when it could not build them). */
  async localOutcomes (epoch: number): Promise<LocalEpoch | undefined> {
    const built = this.local.get(epoch)
    if (built != null || !this.running) return built
    return await new Promise(resolve => {
      const list = this.localWaiters.get(epoch) ?? []
      list.push(resolve)
      this.localWaiters.set(epoch, list)
    })
  }

  /** The latest settled epoch this node holds (-1 for none). */
  get settledEpoch (): number { return this.lastSettled }

  /** Builds the epoch's outcomes from the accepted commitments and reveals. */
  async buildOutcomes (epoch: number): Promise<LocalEpoch | undefined> {
    let built: LocalEpoch | undefined
    try {
      const ctx = await this.registry.context(epoch)
      const outcomes: Outcome[] = []
      for (const p of ctx.providers) {
        const o = decideOutcome(ctx, p, c => this.pool.committed(epoch, c.key, p.key), c => this.pool.revealed(epoch, c.key, p.key))
        if (o != null) outcomes.push(o)
      }
      const sorted = sortOutcomes(outcomes)
      const tree = outcomeTree(sorted)
      built = { epoch, ctx, outcomes: sorted, tree, root: toHex(tree.root) as Hex }
      this.local.set(epoch, built)
      for (const e of this.local.keys()) if (e < epoch - MAX_PENDING_EPOCHS) this.local.delete(e)
      this.pool.prune(epoch - 2)
      if (sorted.length > 0) this.pending.set(epoch, { tries: 0 })
      this.c.logger.debug({ epoch, outcomes: sorted.length, root: built.root }, 'epoch outcomes built')
    } catch (err) {
      this.c.logger.warn({ epoch, err: (err as Error).message }, 'could not build the epoch\'s outcomes')
    }
    const waiters = this.localWaiters.get(epoch) ?? []
    this.localWaiters.delete(epoch)
    for (const w of waiters) w(built)
    return built
  }

  /** Looks for the settlements of the epochs it waits for (one pass at a time). */
  async reconcile (): Promise<void> {
    if (this.reconciling != null || !this.running) return await this.reconciling
    this.reconciling = (async () => {
      for (const [epoch, state] of [...this.pending].sort((a, b) => a[0] - b[0])) {
        if (!this.running) break
        if (this.now() < this.schedule.times(epoch).outcomesAt) continue
        try {
          const settlement = await this.c.ledger.settlement(epoch)
          if (settlement != null && await this.adopt(epoch, settlement)) { this.pending.delete(epoch); continue }
        } catch (err) {
          this.c.logger.debug({ epoch, err: (err as Error).message }, 'settlement check failed')
        }
        if (++state.tries > 4 * MAX_PENDING_EPOCHS || epoch < this.schedule.epochAt(this.now()) - MAX_PENDING_EPOCHS) this.pending.delete(epoch)
      }
    })().finally(() => { this.reconciling = undefined })
    await this.reconciling
  }

  /** Watches for `epoch`'s settlement even if this node built no outcomes for it. */
  watch (epoch: number): void {
    if (!this.pending.has(epoch)) this.pending.set(epoch, { tries: 0 })
  }

  /** Takes the settled epoch in; false when it should be tried again later (the submitter did not answer). */
  private async adopt (epoch: number, s: EpochSettlement): Promise<boolean> {
    if (await this.store.get(epoch) != null) return true
    const local = this.local.get(epoch)
    let outcomes: Outcome[]
    let how: SettledEpoch['how'] = 'matched'
    if (local != null && local.root === s.outcomeRoot) {
      outcomes = local.outcomes
    } else {
      how = 'fetched'
      const fetched = await this.fetchSettled(epoch, s)
      if (fetched === 'retry') return false
      if (fetched === 'disputed') {
        this.c.metrics.settlements.inc({ how: 'disputed' })
        this.c.logger.warn({ epoch, root: s.outcomeRoot, submitter: s.submitter, ours: local?.root }, 'the settled outcomes do not verify: not adopted')
        return true
      }
      outcomes = fetched
    }
    await this.store.put({ epoch, root: s.outcomeRoot, height: s.height, submitter: s.submitter, how, outcomes })
    this.c.metrics.settlements.inc({ how })
    for (const o of outcomes) this.c.metrics.outcomes.inc({ result: resultOf(o.result) ?? 'unspecified' })
    this.c.metrics.settleLatency.observe(Math.max(0, this.now() - this.schedule.times(epoch).end) / 1000)
    if (epoch > this.lastSettled) {
      this.scores.apply(epoch, outcomes)
      this.lastSettled = epoch
      this.c.metrics.settledEpoch.set(epoch)
    }
    this.c.logger.info({ epoch, outcomes: outcomes.length, root: s.outcomeRoot, how }, 'epoch settled')
    return true
  }

  /** The submitter's outcomes, each checked and together hashing to the settled root. */
  private async fetchSettled (epoch: number, s: EpochSettlement): Promise<Outcome[] | 'retry' | 'disputed'> {
    let outcomes: Outcome[]
    try {
      const licence = await this.c.ledger.checker(s.submitter)
      if (licence == null) return 'disputed'
      const peer = peerIdFromString(licence.peerId)
      if (peer.equals(this.c.libp2p.peerId)) return 'disputed'
      const reply = outcomesReplySchema.parse(await request(this.c.libp2p, peer, PROTOCOLS.outcomes, { epoch }, { timeoutMs: 10_000 }))
      outcomes = reply.outcomes.map(b => Outcome.decode(Buffer.from(b, 'base64')))
    } catch (err) {
      this.c.logger.debug({ epoch, err: (err as Error).message }, 'could not fetch the settled outcomes')
      return 'retry'
    }
    const sorted = sortOutcomes(outcomes)
    if (sorted.length !== s.outcomeCount || toHex(outcomeTree(sorted).root) !== s.outcomeRoot) return 'disputed'
    const ctx = await this.registry.context(epoch)
    for (const o of sorted) {
      const check = await checkOutcome(o, ctx)
      if (!check.ok) { this.c.logger.warn({ epoch, reason: check.reason }, 'a settled outcome does not check out'); return 'disputed' }
    }
    return sorted
  }
}
