// How late this process's event loop has been, over a recent span of time.
//
// Why: a checker's probes are timed (a 5 s ping, a challenge deadline of a second or less). When
// the checker's own event loop stalls, its timers fire late and its reads are dispatched late, so
// a provider that answered in time looks slow or gone. A stalled checker that then signs "fail"
// accuses the provider of the checker's own overload. The prober asks this monitor for the
// longest stall of the loop during a failed step (node/roles/checker/prober.ts, `lagVerdict`).
//
// How: one timer per process, every SAMPLE_MS; each tick records how much later than due it ran
// (so a stall is seen up to one interval short). `perf_hooks.monitorEventLoopDelay` gives a
// histogram since its last reset, not "the longest stall since time t", which is the question
// asked here. The timer is unref'd: it never keeps a process alive, and it costs 20 wake-ups a
// second.

const SAMPLE_MS = 50
/** Ticks remembered: two minutes, longer than any probe. */
const CAPACITY = 2400

export interface LoopLag {
  /**
   * The longest single stall of the event loop from `t` (a performance.now() time) to `until`
   * (now, if not given), in ms: the parts of a stall outside the span left out, one still under
   * way included. A busy loop that turns every few tens of ms delays each read by that much; only
   * a long stall makes a reply that came in time look late.
   */
  longestStallSince: (t: number, until?: number) => number
}

export class LoopLagMonitor implements LoopLag {
  private readonly at = new Float64Array(CAPACITY)
  private readonly lag = new Float64Array(CAPACITY)
  /** Ticks recorded so far; the newest is at (count - 1) % CAPACITY. */
  private count = 0
  private last = 0
  private timer?: NodeJS.Timeout

  start (): void {
    if (this.timer != null) return
    this.last = performance.now()
    this.timer = setInterval(() => { this.tick() }, SAMPLE_MS)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  longestStallSince (t: number, until?: number): number {
    const now = performance.now()
    const end = Math.min(until ?? now, now)
    // The part of [from, to] inside the span.
    const inSpan = (from: number, to: number): number => Math.min(to, end) - Math.max(from, t)
    // A stall that has not ended in a tick yet: this call runs right after it, before the timer.
    let longest = this.timer != null ? inSpan(this.last + SAMPLE_MS, now) : 0
    const seen = Math.min(this.count, CAPACITY)
    for (let i = 1; i <= seen; i++) {
      const slot = (this.count - i) % CAPACITY
      // A tick at time `at` ends a stall of `lag` ms: [at - lag, at].
      const at = this.at[slot] as number
      if (at < t) break
      longest = Math.max(longest, inSpan(at - (this.lag[slot] as number), at))
    }
    return Math.max(0, longest)
  }

  private tick (): void {
    const now = performance.now()
    const slot = this.count % CAPACITY
    this.at[slot] = now
    this.lag[slot] = Math.max(0, now - this.last - SAMPLE_MS)
    this.count++
    this.last = now
  }
}

let shared: LoopLagMonitor | undefined

/** The process's monitor, started on first use (lag is a property of the process, not of a node). */
export function processLoopLag (): LoopLag {
  if (shared == null) {
    shared = new LoopLagMonitor()
    shared.start()
  }
  return shared
}
