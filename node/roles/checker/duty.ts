// A checker's work in each epoch (DESIGN §1.2–1.3): from the epoch's start, probe the
// providers it is a candidate for; at the end of the probe window sign a verdict for each and
// publish the commitments H(verdict ‖ salt); once the commit window has closed, publish the
// verdicts with their salts. Its own messages go into its pool directly (gossip does not hand
// a node its own messages back), by the same rules the validator applies to everyone else's.
import { MAX_ENTRIES, commitment, keyOf, newSalt, signVerdict, wireResult, type Result } from '../../../protocols/popw/verdict.js'
import { EpochTicker } from '../../popw/ticker.js'
import { delayUnlessAborted } from '../../abort.js'
import type { Member } from '../../../protocols/popw/assignment.js'
import type { Verdict } from '../../../protocols/popw/popw.js'
import type { Logger } from '../../log.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { PopwMetrics } from '../../popw/metrics.js'
import type { EpochContext } from '../../popw/registry.js'
import type { PopwService } from '../../popw/service.js'
import type { Prober, ProbeReport } from './prober.js'
import type { PrivateKey, Startable } from '@libp2p/interface'

/**
 * Misbehaviour for the simulator's tests (lying checkers, reveals without commitments). Only
 * reachable through NodeEnvironment, which no config file, flag or environment variable sets.
 */
export interface CheckerHooks {
  /** The result this checker signs instead of what it measured. */
  verdict?: (provider: string, measured: Result) => Result
  /** false: publish reveals without having published commitments. */
  commit?: boolean
}

export interface CheckerDutyComponents {
  libp2p: KaisarLibp2p
  privateKey: PrivateKey
  popw: PopwService
  prober: Prober
  logger: Logger
  metrics: PopwMetrics
}

export interface CheckerDutyInit {
  hooks?: CheckerHooks
  /** Providers probed at once. */
  concurrency?: number
}

interface EpochWork {
  ctx: EpochContext
  /** Filled in as probes finish. */
  reports: Map<string, ProbeReport>
  probes: Promise<void>
  signed?: Array<{ verdict: Verdict, salt: Uint8Array<ArrayBuffer> }>
}

export class CheckerDuty implements Startable {
  private readonly c: CheckerDutyComponents
  private readonly init: CheckerDutyInit
  private readonly ticker: EpochTicker
  private readonly work = new Map<number, EpochWork>()
  private readonly abort = new AbortController()
  private readonly key: Uint8Array<ArrayBuffer>

  constructor (components: CheckerDutyComponents, init: CheckerDutyInit = {}) {
    this.c = components
    this.init = init
    this.key = keyOf(components.libp2p.peerId)
    const schedule = components.popw.schedule
    this.ticker = new EpochTicker(schedule)
      .on(t => t.start, epoch => { void this.probe(epoch) })
      .on(t => t.probeEnd, epoch => { void this.commit(epoch) })
      // A little after the window closes, so receivers with a slightly late clock take the reveal too.
      .on(t => t.commitClose + Math.round(schedule.toleranceMs / 2), epoch => { void this.reveal(epoch) })
  }

  async start (): Promise<void> {
    this.ticker.start()
  }

  async stop (): Promise<void> {
    this.ticker.stop()
    this.abort.abort()
  }

  /** Providers this checker probes in `epoch` (for status and tests). */
  duties (epoch: number): readonly Member[] {
    const w = this.work.get(epoch)
    return w == null ? [] : w.ctx.dutiesOf(this.key)
  }

  private async probe (epoch: number): Promise<void> {
    let ctx: EpochContext
    try { ctx = await this.c.popw.registry.context(epoch) } catch (err) {
      this.c.logger.warn({ epoch, err: (err as Error).message }, 'no epoch context: not checking this epoch')
      return
    }
    if (ctx.checker(this.key) == null) return // not licensed (yet) in this epoch
    const duties = ctx.dutiesOf(this.key)
    // Probes end a little before the probe window does, so the commitments are out on time.
    const until = ctx.times.probeEnd - Math.round(this.c.popw.schedule.toleranceMs / 2)
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(Math.max(0, until - Date.now()))])
    const spreadMs = probeSpreadMs(until - Date.now())
    const reports = new Map<string, ProbeReport>()
    const probes = this.runAll(duties, ctx, signal, spreadMs, reports)
    this.work.set(epoch, { ctx, reports, probes })
    for (const e of this.work.keys()) if (e < epoch - 3) this.work.delete(e)
  }

  private async runAll (duties: readonly Member[], ctx: EpochContext, signal: AbortSignal, spreadMs: number, reports: Map<string, ProbeReport>): Promise<void> {
    const startAt = new Map(duties.map(p => [p.peerId, Date.now() + Math.floor(Math.random() * spreadMs)]))
    const queue = [...duties].sort((a, b) => (startAt.get(a.peerId) ?? 0) - (startAt.get(b.peerId) ?? 0))
    const worker = async (): Promise<void> => {
      for (let p = queue.shift(); p != null; p = queue.shift()) {
        const wait = (startAt.get(p.peerId) ?? 0) - Date.now()
        if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
        if (signal.aborted) break
        try {
          reports.set(p.peerId, await this.c.prober.probe(p, ctx, signal))
        } catch (err) {
          this.c.logger.debug({ provider: p.peerId, err: (err as Error).message }, 'probe failed')
        }
      }
    }
    await Promise.all([...Array(Math.min(this.init.concurrency ?? 8, duties.length)).keys()].map(async () => await worker()))
  }

  private async commit (epoch: number): Promise<void> {
    const w = this.work.get(epoch)
    if (w == null) return
    // The probes' signal ended them a moment ago; one still stuck in a call that ignores it
    // does not hold the commitments back (its provider gets `probe-timeout`).
    await Promise.race([w.probes, new Promise(resolve => setTimeout(resolve, Math.max(0, w.ctx.times.probeEnd + this.c.popw.schedule.toleranceMs - Date.now())))])
    const reports = w.reports
    const signed: Array<{ verdict: Verdict, salt: Uint8Array<ArrayBuffer> }> = []
    for (const p of w.ctx.dutiesOf(this.key)) {
      // No finished probe, or one the window cut short: abstain (no commitment, a backup counts).
      const report = reports.get(p.peerId)
      if (report == null || report.abstain === true) {
        if (report?.checkerLagMs != null) this.c.logger.info({ epoch, provider: p.peerId, lagMs: report.checkerLagMs, reasons: report.reasons }, 'abstained: this checker\'s event loop stalled during the failed steps')
        this.c.metrics.verdicts.inc({ result: 'abstained' })
        continue
      }
      // Why, where an operator (or the provider's owner, asking) can read it: the verdict carries
      // the reasons' codes only.
      if (report.result === 'fail') this.c.logger.info({ epoch, provider: p.peerId, reasons: report.reasons, errors: report.errors.slice(0, 8) }, 'probe failed')
      const result = this.init.hooks?.verdict?.(p.peerId, report.result) ?? report.result
      const verdict = await signVerdict(this.c.privateKey, {
        epoch: BigInt(epoch),
        provider: p.key,
        checker: this.key,
        result: wireResult(result),
        reasons: report.reasons.slice(0, 8),
        rttMs: report.rttMs,
        bandwidthMbps: report.bandwidthMbps,
        challengeN: report.challengeN,
        challengeMs: report.challengeMs,
        deadlineMs: report.deadlineMs,
        claimedClass: report.claimedClass,
        leasesChecked: report.leasesChecked,
        leasesOk: report.leasesOk
      })
      this.c.metrics.verdicts.inc({ result })
      signed.push({ verdict, salt: newSalt() })
    }
    w.signed = signed
    if (this.init.hooks?.commit === false || signed.length === 0) return
    if (!await this.until(w.ctx.times.probeEnd + publishDelayMs(w.ctx.times.commitClose - w.ctx.times.probeEnd, Math.random()))) return
    const pool = this.c.popw.pool
    for (const [part, chunk] of chunks(signed).entries()) {
      const entries = chunk.map(s => ({ provider: s.verdict.provider, commitment: commitment(s.verdict, s.salt) }))
      pool.markSeen(epoch, 'commit', this.key, part)
      pool.addCommitments(epoch, this.key, entries)
      await this.publish({ commit: { epoch: BigInt(epoch), part, entries } }, epoch, 'commit')
    }
  }

  private async reveal (epoch: number): Promise<void> {
    const w = this.work.get(epoch)
    const signed = w?.signed
    if (w == null || signed == null || signed.length === 0) return
    if (!await this.until(Date.now() + publishDelayMs(w.ctx.times.end - w.ctx.times.commitClose, Math.random()))) return
    const pool = this.c.popw.pool
    for (const [part, chunk] of chunks(signed).entries()) {
      pool.markSeen(epoch, 'reveal', this.key, part)
      pool.addReveals(epoch, this.key, chunk.filter(s => pool.committed(epoch, this.key, s.verdict.provider)).map(s => s.verdict))
      await this.publish({ reveal: { epoch: BigInt(epoch), part, entries: chunk.map(s => ({ verdict: s.verdict, salt: s.salt })) } }, epoch, 'reveal')
    }
  }

  /** Waits until `time` (at once if it has passed): true, or false when the duty stopped first. */
  private async until (time: number): Promise<boolean> {
    return await delayUnlessAborted(time - Date.now(), this.abort.signal)
  }

  private async publish (msg: Parameters<PopwService['publish']>[0], epoch: number, kind: string): Promise<void> {
    try {
      await this.c.popw.publish(msg)
    } catch (err) {
      this.c.logger.warn({ epoch, kind, err: (err as Error).message }, 'popw publish failed')
    }
  }
}

/** Room a probe keeps after its start: its steps' own time limits, each tried twice, come to about this. */
export const PROBE_RESERVE_MS = 60_000

/**
 * How far into a probe window of `windowMs` probes may start. Each starts at a random moment of
 * that span: a provider cannot tell when it will be challenged (no turbo mode at the epoch's
 * start), and checkers do not all arrive at once. The span is the window less a probe's reserve,
 * and never less than its first quarter: a short window (the default 60 s epoch's is 30 s) keeps
 * the quarter, so a probe has three quarters to finish; a long one spreads its probes over all
 * of it but the reserve, so the network's probe load is flat rather than a burst at each start.
 */
export function probeSpreadMs (windowMs: number): number {
  if (!(windowMs > 0)) return 0
  return Math.round(Math.max(windowMs * 0.25, windowMs - PROBE_RESERVE_MS))
}

/**
 * How long into a publication window of `windowMs` a checker waits before publishing its
 * commitments (or its reveals): a random moment of the window's first half. Every checker's
 * clock reaches the window's edge at the same moment, and all publishing then floods every node
 * at once: in the 1,000-node simulator each commit and reveal flood stalled a process's event
 * loop for 10–28 s (sim/README.md, stop 31). The second half is left for gossip to carry the
 * last ones before the window closes.
 */
export function publishDelayMs (windowMs: number, random: number): number {
  if (!(windowMs > 0) || !(random >= 0 && random < 1)) return 0
  return Math.floor(random * windowMs / 2)
}

function chunks<T> (list: T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < list.length; i += MAX_ENTRIES) out.push(list.slice(i, i + MAX_ENTRIES))
  return out
}
