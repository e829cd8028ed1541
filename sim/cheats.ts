// Cheating providers and lying checkers, for the simulator's tests of Proof of Physical Work
// (issue 6, done-when 2 and 3). They enter a node only through NodeEnvironment.popwHooks, which
// `KaisarNode.create` (every real process) never sets: no config, flag or environment variable
// can turn a real node into one of these.
import { honestResponder, type ChallengeAnswer, type ChallengeResponder } from '../node/roles/provider/challenge-service.js'
import type { CheckerHooks } from '../node/roles/checker/index.js'

/** Computes honestly, then sits on the answer for `delayMs`: too slow for any deadline it is given. */
export function slowResponder (delayMs: number): ChallengeResponder {
  return {
    answer: async (req, signal) => {
      const answer = await honestResponder.answer(req, signal)
      await new Promise(resolve => setTimeout(resolve, delayMs))
      return answer
    }
  }
}

/** Answers its first challenge honestly, then sends that same answer to every later one. */
export function replayResponder (): ChallengeResponder {
  let first: ChallengeAnswer | undefined
  return {
    answer: async (req, signal) => {
      first ??= await honestResponder.answer(req, signal)
      return first
    }
  }
}

export const alwaysPass: CheckerHooks = { verdict: () => 'pass' }
export const alwaysFail: CheckerHooks = { verdict: () => 'fail' }
/** Reveals verdicts it never committed to (it cannot have been bound to them). */
export const revealWithoutCommit: CheckerHooks = { commit: false }
