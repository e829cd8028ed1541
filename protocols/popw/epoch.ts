// Epochs of Proof of Physical Work: wall-clock slots of `epochMs`, numbered from the Unix
// epoch, so every node agrees on the current epoch without talking. Inside each epoch:
//
//   0 ───────── probeEnd ───────── commitClose ───────── end ── revealClose ── outcomesAt
//     probes              commits               reveals              grace
//
// Checkers probe, publish their commitments by `probeEnd`, and reveal only after
// `commitClose`, when nobody can change a commitment any more (so nobody can copy). Reveals
// are accepted until `revealClose`, a short grace after the epoch's end for gossip latency;
// then every node builds the epoch's outcomes and the settler submits them.

export interface EpochTimes {
  epoch: number
  start: number
  probeEnd: number
  commitClose: number
  end: number
  revealClose: number
  outcomesAt: number
}

export class EpochSchedule {
  constructor (readonly epochMs: number) {
    if (!Number.isInteger(epochMs) || epochMs < 500) throw new RangeError(`epochMs must be an integer ≥ 500 (got ${epochMs})`)
  }

  /** Clock skew and gossip latency a window edge tolerates: 5 % of the epoch, at most 500 ms. */
  get toleranceMs (): number { return Math.min(500, Math.round(this.epochMs * 0.05)) }

  /** How long after the epoch's end reveals are still taken: 10 % of the epoch, at most 2 s. */
  get graceMs (): number { return Math.min(2000, Math.round(this.epochMs * 0.1)) }

  epochAt (time: number): number {
    return Math.floor(time / this.epochMs)
  }

  times (epoch: number): EpochTimes {
    const start = epoch * this.epochMs
    const end = start + this.epochMs
    const revealClose = end + this.graceMs
    return {
      epoch,
      start,
      probeEnd: start + Math.round(this.epochMs * 0.5),
      commitClose: start + Math.round(this.epochMs * 0.7),
      end,
      revealClose,
      outcomesAt: revealClose + Math.min(250, this.toleranceMs)
    }
  }

  /** A commit for `epoch` is on time when it arrives before its window closes (plus tolerance). */
  commitOnTime (epoch: number, now: number): 'ok' | 'early' | 'late' {
    const t = this.times(epoch)
    if (now < t.start - this.toleranceMs) return 'early'
    if (now > t.commitClose + this.toleranceMs) return 'late'
    return 'ok'
  }

  /** A reveal for `epoch` is on time inside [commitClose - tolerance, revealClose + tolerance]. */
  revealOnTime (epoch: number, now: number): 'ok' | 'early' | 'late' {
    const t = this.times(epoch)
    if (now < t.commitClose - this.toleranceMs) return 'early'
    if (now > t.revealClose + this.toleranceMs) return 'late'
    return 'ok'
  }
}
