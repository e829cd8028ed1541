// Provider scores for the scheduler (DESIGN §1.3), from settled outcomes only: an exponential
// average of results (pass 1, fail 0) in [0, 1], 0.5 for a provider never checked. A provider
// is schedulable once it has passed at least once and its latest outcome is a pass: new
// providers wait for their first passing outcome, failing ones drop out until they pass again.
import { keyToString, resultOf } from '../../protocols/popw/verdict.js'
import type { Outcome } from '../../protocols/popw/popw.js'

export const NEUTRAL_SCORE = 0.5
/** Weight of the newest outcome: ≈ the last 6 outcomes carry 90 % of the score. */
export const SCORE_ALPHA = 0.3

export interface ProviderScore {
  peerId: string
  score: number
  passes: number
  fails: number
  lastEpoch?: number
  lastResult?: 'pass' | 'fail'
  schedulable: boolean
}

export class ProviderScores {
  private readonly scores = new Map<string, ProviderScore>()

  /** Folds in one settled epoch's outcomes (epochs in increasing order; an older epoch than seen is ignored). */
  apply (epoch: number, outcomes: readonly Outcome[]): void {
    for (const o of outcomes) {
      const result = resultOf(o.result)
      if (result == null) continue
      const peerId = keyToString(o.provider)
      const s = this.scores.get(peerId) ?? { peerId, score: NEUTRAL_SCORE, passes: 0, fails: 0, schedulable: false }
      if (s.lastEpoch != null && epoch <= s.lastEpoch) continue
      const x = result === 'pass' ? 1 : 0
      const score = s.passes + s.fails === 0 ? (NEUTRAL_SCORE + x) / 2 : s.score * (1 - SCORE_ALPHA) + x * SCORE_ALPHA
      const next: ProviderScore = {
        peerId,
        score: Math.round(score * 1e4) / 1e4,
        passes: s.passes + x,
        fails: s.fails + 1 - x,
        lastEpoch: epoch,
        lastResult: result,
        schedulable: result === 'pass'
      }
      this.scores.set(peerId, next)
    }
  }

  /** 0..1; NEUTRAL_SCORE for a provider without outcomes. */
  score (peerId: string): number {
    return this.scores.get(peerId)?.score ?? NEUTRAL_SCORE
  }

  get (peerId: string): ProviderScore {
    return this.scores.get(peerId) ?? { peerId, score: NEUTRAL_SCORE, passes: 0, fails: 0, schedulable: false }
  }

  list (): ProviderScore[] {
    return [...this.scores.values()].sort((a, b) => b.score - a.score || a.peerId.localeCompare(b.peerId))
  }
}
