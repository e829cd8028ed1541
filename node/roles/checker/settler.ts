// Who submits an epoch's settlement (DESIGN §1.4): the checkers in the epoch's settler order
// (SHA-256(seed ‖ "settle" ‖ checker)); the first submits as soon as the outcomes are built,
// the next only if no settlement is on the ledger `fallbackMs` later, and so on. A duplicate is
// harmless: the ledger refuses a second settlement of an epoch, and the outbox reads that
// refusal as "already settled". Only a checker that watched the whole epoch settles it.
import { parseTokenAmount } from '../../../chain/amount.js'
import { keyOf } from '../../../protocols/popw/verdict.js'
import { settlementFor } from '../../popw/settlement.js'
import { EpochTicker } from '../../popw/ticker.js'
import type { Ledger } from '../../../chain/ledger.js'
import type { Outbox } from '../../../chain/outbox.js'
import type { NodeConfig } from '../../config/schema.js'
import type { Logger } from '../../log.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { PopwMetrics } from '../../popw/metrics.js'
import type { PopwService } from '../../popw/service.js'
import type { Startable } from '@libp2p/interface'

/** Settlers tried in turn before the epoch is left unsettled. */
const MAX_FALLBACKS = 8

export class Settler implements Startable {
  private readonly ticker: EpochTicker
  private startedAt = Number.POSITIVE_INFINITY
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor (private readonly c: { libp2p: KaisarLibp2p, ledger: Ledger, outbox: Outbox, popw: PopwService, wallet: string, logger: Logger, metrics: PopwMetrics }, private readonly config: NodeConfig['popw']) {
    this.ticker = new EpochTicker(c.popw.schedule).on(t => t.outcomesAt, epoch => { void this.onOutcomes(epoch) })
  }

  /** Delay between one settler and the next. */
  get fallbackMs (): number { return Math.max(500, Math.round(this.config.epochMs / 4)) }

  async start (): Promise<void> {
    this.startedAt = Date.now()
    this.ticker.start()
  }

  async stop (): Promise<void> {
    this.ticker.stop()
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  private async onOutcomes (epoch: number): Promise<void> {
    const local = await this.c.popw.localOutcomes(epoch)
    if (local == null || local.outcomes.length === 0) return
    if (this.startedAt > local.ctx.times.start) return // joined mid-epoch: may have missed messages
    const position = local.ctx.settlers().findIndex(m => Buffer.compare(m.key, keyOf(this.c.libp2p.peerId)) === 0)
    if (position < 0 || position >= MAX_FALLBACKS) return
    const submit = async (): Promise<void> => {
      try {
        // The first settler goes ahead (a duplicate is refused harmlessly); the others look first.
        if (position > 0 && await this.c.ledger.settlement(epoch) != null) return
        // Struck out since the epoch began: the ledger would refuse it; leave it to the next.
        if ((await this.c.ledger.checker(this.c.wallet))?.eligible === false) return
        const decimals = this.c.ledger.decimals
        const call = await settlementFor(local.ctx, local.outcomes, {
          reward: parseTokenAmount(this.config.reward, decimals),
          penalty: parseTokenAmount(this.config.penalty, decimals)
        }, async provider => await this.c.ledger.leasesOf(provider))
        await this.c.outbox.enqueue(`settle/${epoch}`, call)
        this.c.metrics.settlements.inc({ how: 'submitted' })
        this.c.popw.watch(epoch)
        this.c.logger.info({ epoch, position, outcomes: call.outcomeCount, root: call.outcomeRoot }, 'settlement submitted')
      } catch (err) {
        this.c.logger.warn({ epoch, err: (err as Error).message }, 'could not submit the settlement')
      }
    }
    if (position === 0) { await submit(); return }
    const t = setTimeout(() => { this.timers.delete(t); void submit() }, position * this.fallbackMs)
    t.unref()
    this.timers.add(t)
  }
}
