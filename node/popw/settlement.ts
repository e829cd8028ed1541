// What an epoch's settlement says (DESIGN §1.3–1.4), computed from its outcomes:
// - the Merkle root of the outcomes (sorted by provider) and their count;
// - rewards: `reward` per outcome a checker agreed with, paid only to a checker that agreed
//   with every outcome it took part in this epoch (one minority verdict forfeits the epoch);
// - dissenters: the checkers that said the opposite of more than a third of the outcomes they
//   took part in (the ledger strikes them, and repeated dissent ends their eligibility). A
//   checker that is wrong now and then (a bad link, an overloaded moment) loses that epoch's
//   rewards but is not struck; one that lies systematically is;
// - penalties: `penalty` from the stake of each provider with a failing outcome, except in an
//   epoch where many providers fail for nothing but being unreachable (see massUnreachable);
// - points: to each user whose lease with a failing provider overlapped the epoch, the lease's
//   price for the overlap (refunds in points, decided by the checkers, not by either side).
// Every list is bounded by the number of checkers, providers or users, not by the number of
// verdicts, so the ledger's cost per epoch stays flat in the number of checks.
import { toHex } from '../../chain/merkle.js'
import { majorityOf, outcomeTree } from '../../protocols/popw/outcome.js'
import { VerdictResult, type Outcome } from '../../protocols/popw/popw.js'
import type { Address, Hex, LeaseEscrow, LedgerCall } from '../../chain/ledger.js'
import type { EpochContext } from './registry.js'

export type SettleCall = Extract<LedgerCall, { kind: 'settleEpoch' }>

export interface SettlementParams {
  /** Per agreed outcome, in the ledger's smallest unit. */
  reward: bigint
  /** Per failing outcome. */
  penalty: bigint
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const byAddress = <T extends { to?: string, provider?: string }>(a: T, b: T): number => (a.to ?? a.provider ?? '').localeCompare(b.to ?? b.provider ?? '')

/** Lease time of `escrow` inside [start, end), ms (the ledger's own clock: startedAt/closedAt). */
export function overlapMs (escrow: LeaseEscrow, start: number, end: number): number {
  if (escrow.startedAt == null) return 0
  const until = escrow.closedAt ?? Number.POSITIVE_INFINITY
  return Math.max(0, Math.min(end, until) - Math.max(start, escrow.startedAt))
}

/**
 * A partition, or an outage of a region, looks to the checkers on one side exactly like many
 * providers going offline at once; no single checker can tell them apart (the partition
 * scenario: every honest provider on the far side failed as unreachable and lost stake). The
 * rule is therefore collective and deterministic: when at least MASS_UNREACHABLE_MIN providers,
 * and more than MASS_UNREACHABLE_SHARE of the epoch's outcomes, fail with no reason but
 * `unreachable`, those providers lose no stake this epoch. Their users still get points (the
 * service did fail them) and the outcomes still count against the providers' scores (the
 * scheduler avoids them). The price: an offline cheater goes unpunished for an epoch only by
 * hiding inside an outage of a quarter of the network.
 */
export const MASS_UNREACHABLE_MIN = 3
export const MASS_UNREACHABLE_SHARE = 0.25

/** Failing outcomes whose counted verdicts give no reason but `unreachable`. */
function unreachableOnly (o: Outcome): boolean {
  if (o.result !== VerdictResult.FAIL) return false
  const counted = new Set(majorityOf(o).majority.map(hex))
  const reasons = o.verdicts.filter(v => counted.has(hex(v.checker))).flatMap(v => v.reasons)
  return reasons.length > 0 && reasons.every(r => r === 'unreachable')
}

/** Providers (keys, hex) spared their penalty this epoch under the mass-unreachability rule. */
export function massUnreachable (sorted: readonly Outcome[]): Set<string> {
  const unreachable = sorted.filter(unreachableOnly)
  if (unreachable.length < MASS_UNREACHABLE_MIN || unreachable.length <= MASS_UNREACHABLE_SHARE * sorted.length) return new Set()
  return new Set(unreachable.map(o => hex(o.provider)))
}

export async function settlementFor (ctx: EpochContext, sorted: readonly Outcome[], params: SettlementParams, leasesOf: (provider: Address) => Promise<LeaseEscrow[]>): Promise<SettleCall> {
  const agreed = new Map<string, number>()
  const dissent = new Map<string, number>()
  const revealed = new Map<string, number>()
  for (const o of sorted) {
    const { majority, minority } = majorityOf(o)
    for (const c of majority) agreed.set(hex(c), (agreed.get(hex(c)) ?? 0) + 1)
    for (const c of minority) dissent.set(hex(c), (dissent.get(hex(c)) ?? 0) + 1)
    for (const v of o.verdicts) revealed.set(hex(v.checker), (revealed.get(hex(v.checker)) ?? 0) + 1)
  }
  const addressOf = (key: string): Address | undefined => ctx.checker(Buffer.from(key, 'hex'))?.address
  const rewards = params.reward === 0n
    ? []
    : [...agreed].filter(([key]) => !dissent.has(key)).flatMap(([key, n]) => {
        const to = addressOf(key)
        return to == null ? [] : [{ to, amount: params.reward * BigInt(n) }]
      }).sort(byAddress)
  const dissenters = [...dissent].filter(([key, n]) => n * 3 > (revealed.get(key) ?? 0)).map(([key]) => addressOf(key)).filter((a): a is Address => a != null).sort()

  const failingOutcomes = sorted.filter(o => o.result === VerdictResult.FAIL)
  const failing = failingOutcomes.map(o => ctx.provider(o.provider)).filter(p => p != null)
  const spared = massUnreachable(sorted)
  const penalised = failingOutcomes.filter(o => !spared.has(hex(o.provider))).map(o => ctx.provider(o.provider)).filter(p => p != null)
  const penalties = params.penalty === 0n ? [] : penalised.map(p => ({ provider: p.address, amount: params.penalty })).sort(byAddress)
  const points = new Map<Address, bigint>()
  const leases = await Promise.all(failing.map(async p => await leasesOf(p.address)))
  for (const list of leases) {
    for (const escrow of list) {
      const ms = overlapMs(escrow, ctx.times.start, ctx.times.end)
      const owed = escrow.pricePerHour * BigInt(Math.round(ms)) / 3_600_000n
      if (owed > 0n) points.set(escrow.user, (points.get(escrow.user) ?? 0n) + owed)
    }
  }
  return {
    kind: 'settleEpoch',
    epoch: ctx.epoch,
    outcomeRoot: toHex(outcomeTree(sorted).root) as Hex,
    outcomeCount: sorted.length,
    rewards,
    penalties,
    points: [...points].map(([to, amount]) => ({ to, amount })).sort(byAddress),
    dissenters
  }
}
