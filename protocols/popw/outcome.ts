// Outcomes: the rule that turns revealed verdicts into a decision, and the check anyone can
// run on an Outcome without having seen the gossip. Pure functions: the epoch's context (seed,
// licensed checkers, registered providers) comes from the caller, who reads it off the ledger.
import { MerkleTree } from '../../chain/merkle.js'
import { candidates, effectiveK, quorum, type AssignmentParams, type Member } from './assignment.js'
import { Outcome, VerdictResult } from './popw.js'
import { keyToString, resultOf, verdictJson, verdictShapeError, verifyVerdict, wireResult, type Result, type VerdictJson } from './verdict.js'
import type { Verdict } from './popw.js'

export { Outcome }

export interface EpochView {
  epoch: number
  seed: Uint8Array
  checkers: readonly Member[]
  providers: readonly Member[]
  params: AssignmentParams
  /**
   * The provider's candidates, when the view keeps them (the node's EpochContext does: it ranks
   * each provider's checkers once per epoch, for the duties and for the outcomes).
   */
  candidatesOf?: (provider: Member) => readonly Member[]
}

/** The provider's candidates (k assigned, then the backups) under `view`. */
function candidatesIn (view: EpochView, provider: Member): readonly Member[] {
  return view.candidatesOf?.(provider) ?? candidates(view.seed, provider.key, view.checkers, view.params)
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/**
 * The outcome for `provider`, or undefined when there is none (no quorum).
 *
 * The counted checkers are the provider's candidates (k assigned, then the backups) that
 * committed this epoch, in order, the first k of them: an assigned checker that did not commit
 * is offline and the next one takes its place. A verdict counts only when it was revealed
 * against its own earlier commitment (`revealed` returns only those). A result decides when at
 * least ⌈2k/3⌉ of the counted checkers revealed it. The outcome also carries the revealed
 * verdicts of the committed backups that were not counted: they decide nothing, but a backup
 * that says the opposite of the outcome has dissented like any other checker.
 */
export function decideOutcome (view: EpochView, provider: Member, committed: (checker: Member) => boolean, revealed: (checker: Member) => Verdict | undefined): Outcome | undefined {
  const k = effectiveK(view.checkers.length, view.params.k)
  if (k === 0) return undefined
  const committers = candidatesIn(view, provider).filter(committed)
  const counted = committers.slice(0, k)
  const tally = { pass: 0, fail: 0 }
  for (const c of counted) { const r = resultOf(revealed(c)?.result ?? VerdictResult.RESULT_UNSPECIFIED); if (r != null) tally[r]++ }
  const need = quorum(k)
  const result: Result | undefined = tally.pass >= need ? 'pass' : tally.fail >= need ? 'fail' : undefined
  if (result == null) return undefined
  const verdicts = committers.map(revealed).filter((v): v is Verdict => v != null)
  return { epoch: BigInt(view.epoch), provider: provider.key, result: wireResult(result), assigned: counted.map(c => c.key), verdicts }
}

export type OutcomeCheck = { ok: true, result: Result } | { ok: false, reason: string }

/**
 * Checks an Outcome against the epoch's context: the provider is registered, the counted
 * checkers are licensed candidates in assignment order, every verdict is signed by one of them
 * for this (epoch, provider), and a quorum of them says the outcome's result.
 * What it cannot check without the gossip: that each verdict was committed before it was
 * revealed (the builders, every honest node, enforce that) and that no earlier candidate committed.
 */
export async function checkOutcome (o: Outcome, view: EpochView): Promise<OutcomeCheck> {
  const result = resultOf(o.result)
  if (result == null) return { ok: false, reason: 'no-result' }
  if (Number(o.epoch) !== view.epoch) return { ok: false, reason: 'wrong-epoch' }
  const provider = view.providers.find(p => hex(p.key) === hex(o.provider))
  if (provider == null) return { ok: false, reason: 'unknown-provider' }
  const k = effectiveK(view.checkers.length, view.params.k)
  if (o.assigned.length === 0 || o.assigned.length > k) return { ok: false, reason: 'bad-assignment' }
  const order = candidatesIn(view, provider).map(c => hex(c.key))
  let last = -1
  for (const a of o.assigned) {
    const at = order.indexOf(hex(a))
    if (at <= last) return { ok: false, reason: 'bad-assignment' }
    last = at
  }
  const assigned = new Set(o.assigned.map(hex))
  const seen = new Set<string>()
  let agreeing = 0
  for (const v of o.verdicts) {
    if (verdictShapeError(v) != null) return { ok: false, reason: 'malformed-verdict' }
    const who = hex(v.checker)
    if (!order.includes(who) || seen.has(who)) return { ok: false, reason: 'verdict-not-candidate' }
    seen.add(who)
    if (v.epoch !== o.epoch || hex(v.provider) !== hex(o.provider)) return { ok: false, reason: 'verdict-mismatch' }
    if (!await verifyVerdict(v)) return { ok: false, reason: 'bad-verdict-signature' }
    if (assigned.has(who) && resultOf(v.result) === result) agreeing++
  }
  if (agreeing < quorum(k)) return { ok: false, reason: 'no-quorum' }
  return { ok: true, result }
}

/**
 * The counted checkers of an outcome that agreed with it (they earn), and every checker that
 * revealed the other result, counted or standing by (they dissented).
 */
export function majorityOf (o: Outcome): { majority: Uint8Array[], minority: Uint8Array[] } {
  const assigned = new Set(o.assigned.map(hex))
  const majority: Uint8Array[] = []
  const minority: Uint8Array[] = []
  for (const v of o.verdicts) {
    if (v.result !== o.result) minority.push(v.checker)
    else if (assigned.has(hex(v.checker))) majority.push(v.checker)
  }
  return { majority, minority }
}

/** Leaves in a canonical order (by provider key), so one set of outcomes has one root. */
export function sortOutcomes (outcomes: readonly Outcome[]): Outcome[] {
  return [...outcomes].sort((a, b) => Buffer.compare(a.provider, b.provider))
}

export function outcomeTree (sorted: readonly Outcome[]): MerkleTree {
  return MerkleTree.fromLeaves(sorted.map(o => Outcome.encode(o)))
}

export interface OutcomeJson {
  epoch: number
  provider: string
  result: Result | 'unspecified'
  assigned: string[]
  verdicts: VerdictJson[]
}

export function outcomeJson (o: Outcome): OutcomeJson {
  return {
    epoch: Number(o.epoch),
    provider: keyToString(o.provider),
    result: resultOf(o.result) ?? 'unspecified',
    assigned: o.assigned.map(keyToString),
    verdicts: o.verdicts.map(verdictJson)
  }
}
