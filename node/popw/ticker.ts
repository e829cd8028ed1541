// Calls back at given moments of every epoch (probe end, commit close, …), on the wall clock
// every node shares, so a node that starts mid-epoch joins in at the next moment due.
import type { EpochSchedule, EpochTimes } from '../../protocols/popw/epoch.js'

type Phase = (t: EpochTimes) => number

export class EpochTicker {
  private readonly phases: Array<{ at: Phase, run: (epoch: number) => void }> = []
  private readonly timers = new Set<NodeJS.Timeout>()
  private running = false

  constructor (private readonly schedule: EpochSchedule, private readonly now: () => number = Date.now) {}

  /** Runs `run(epoch)` at `at(times(epoch))` for every epoch from now on. */
  on (at: Phase, run: (epoch: number) => void): this {
    this.phases.push({ at, run })
    return this
  }

  start (): void {
    if (this.running) return
    this.running = true
    const now = this.now()
    const current = this.schedule.epochAt(now)
    // Moments of the previous epoch can still be due (its reveal grace runs into this epoch).
    for (const epoch of [current - 1, current]) this.arm(epoch, now)
    this.armNext(current + 1)
  }

  stop (): void {
    this.running = false
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  /** Arms the moments of `epoch` from `from` on; one already past (a late timer) runs at once. */
  private arm (epoch: number, from: number): void {
    const t = this.schedule.times(epoch)
    const now = this.now()
    for (const phase of this.phases) {
      const at = phase.at(t)
      if (at >= from) this.timer(Math.max(0, at - now), () => { phase.run(epoch) })
    }
  }

  /** At each epoch's start, arm that epoch's moments and the next start. */
  private armNext (epoch: number): void {
    const start = this.schedule.times(epoch).start
    this.timer(Math.max(0, start - this.now()), () => {
      this.arm(epoch, start)
      this.armNext(epoch + 1)
    })
  }

  private timer (ms: number, fn: () => void): void {
    if (!this.running) return
    const t = setTimeout(() => { this.timers.delete(t); if (this.running) fn() }, ms)
    t.unref()
    this.timers.add(t)
  }
}
