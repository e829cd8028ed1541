// What a partitioned run's report says about the split (sim/partition.ts, scenario `partition`):
// that it happened (no connection and no gossip across while split), what each side still did
// on its own (gossip, DHT lookups, orders), what the epochs made of it (honest providers failed
// because of the split: must be none), and how long after the heal gossip crossed again.
// Pure bookkeeping over what the runner recorded: no clock, no nodes.
import type { GossipPair, TimedResult } from './metrics.js'
import type { Side } from './partition.js'

export interface SplitLog {
  /** Wall clock (ms since the Unix epoch) when the network split and healed; undefined when not played. */
  splitAt?: number
  healAt?: number
  /** Connections cut at the split (each end counts). */
  connectionsCut: number
  /** Most connections across the sides seen open at once while split (sampled): must be 0. */
  crossConnectionsSeen: number
  /** Orders started while split. */
  orders: SplitOrder[]
  /** DHT lookups started while split (none of them in the headline), asker and target on the same side / on different sides. */
  dhtSameSide: TimedResult[]
  dhtAcross: TimedResult[]
}

export interface SplitOrder {
  order: string
  region: string
  ok: boolean
  /** Side of the user who placed it. */
  userSide: Side
  /** A provider on the user's side serves the region (the order can succeed). */
  servable: boolean
  /** Still split when it ended: one that ends after the heal may have been served from either side, and is not judged. */
  endedWhileSplit: boolean
  /** Side of the provider that deployed it. */
  servedBy?: Side
  error?: string
}

export interface Delivery { expected: number, delivered: number, ratio: number }

export interface PartitionReport {
  /** ms after the start of the measured window. */
  splitAtMs: number
  healAtMs: number
  sides: Record<Side, { gateways: number, checkers: number, providers: number, users: number }>
  connectionsCut: number
  crossConnectionsWhileSplit: number
  gossip: {
    /** Publishes while split, each side's own subscribers. */
    sameSide: Record<Side, Delivery>
    /** Publishes while split, the other side's subscribers: delivered must be 0. */
    acrossSplit: Delivery
    /**
     * After the heal, until each gateway and checker received a heartbeat from the other side:
     * the first one, and the last one (null while some never did; `unreached` counts them).
     */
    healFirstMs: number | null
    healAllMs: number | null
    unreached: number
    /** Cross-side pairs of the publishes made once every gateway and checker heard the other side again (from `healAllMs` on). */
    afterHeal: Delivery
    /** `healAllMs` above this is reported as degraded. */
    allowanceMs: number
  }
  /** Orders started while split; all but `straddled` (ended after the heal) judged. */
  orders: { total: number, straddled: number, ok: number, servable: number, servableOk: number, servedOnOtherSide: number, unservable: number, unservableOk: number, failures: string[] }
  dht: { sameSide: { lookups: number, ok: number }, acrossSplit: { lookups: number, ok: number } }
  outcomes: {
    /** Measured epochs (0 = the first) that overlap the split. */
    epochs: number[]
    /** Per side, over those epochs: providers, outcomes, failing outcomes. */
    bySide: Record<Side, { providers: number, outcomes: number, fails: number }>
    honestFailedBySplit: number
    failedBySplit: Array<{ id: string, side: Side, epochs: number[], reasons: string[] }>
  }
}

export interface ProviderEpochs { id: string, honest: boolean, passedIn: number[], failedIn: number[], reasons: string[] }

export interface PartitionInput {
  log: SplitLog
  /** Start of the measured window, ms since the Unix epoch. */
  t0: number
  sideOfPeer: (peerId: string) => Side | undefined
  sideOfName: (name: string) => Side
  /** The run's initial nodes and users (names and roles). */
  members: Array<{ name: string, role: string }>
  /** Heartbeat pairs of the whole measured window. */
  pairs: GossipPair[]
  graceMs: number
  allowanceMs: number
  /** Measured epochs: absolute numbers and their [start, end). */
  epochs: Array<{ epoch: number, start: number, end: number }>
  providers: ProviderEpochs[]
}

function delivery (pairs: GossipPair[]): Delivery {
  const delivered = pairs.filter(p => p.ms != null).length
  return { expected: pairs.length, delivered, ratio: pairs.length === 0 ? NaN : delivered / pairs.length }
}

/**
 * A heartbeat pair whose ends were on different sides while it could not cross: published from a
 * grace before the split (it may have been on its way when the links were cut) until every
 * gateway and checker had heard the other side again after the heal (`report.gossip.healAllMs`;
 * never, when some did not). Such pairs are the partition's, not the gossip layer's losses.
 */
export function unreachablePair (p: GossipPair, report: PartitionReport | undefined, t0: number, sideOfPeer: (peerId: string) => Side | undefined, graceMs: number): boolean {
  if (report == null) return false
  const a = sideOfPeer(p.publisher)
  const b = sideOfPeer(p.subscriber)
  if (a == null || b == null || a === b) return false
  const reconnected = report.gossip.healAllMs == null ? Number.POSITIVE_INFINITY : t0 + report.healAtMs + report.gossip.healAllMs
  return p.at >= t0 + report.splitAtMs - graceMs && p.at < reconnected
}

export function partitionReport (input: PartitionInput): PartitionReport | undefined {
  const { log, t0 } = input
  if (log.splitAt == null) return undefined
  const splitAt = log.splitAt
  const healAt = log.healAt ?? Number.POSITIVE_INFINITY
  const side = (peer: string): Side | undefined => input.sideOfPeer(peer)
  const across = (p: GossipPair): boolean => { const a = side(p.publisher); const b = side(p.subscriber); return a != null && b != null && a !== b }

  // While split: publishes from the split until a grace before the heal (later ones could cross after it).
  const whileSplit = input.pairs.filter(p => p.at >= splitAt && p.at <= healAt - input.graceMs)
  const sameSide = (s: Side): Delivery => delivery(whileSplit.filter(p => !across(p) && side(p.subscriber) === s))

  // After the heal: for each subscriber, the first heartbeat from the other side that reached it.
  const firstAcross = new Map<string, number>()
  for (const p of input.pairs) {
    if (!across(p) || p.ms == null || p.at + p.ms < healAt) continue
    const after = p.at + p.ms - healAt
    firstAcross.set(p.subscriber, Math.min(firstAcross.get(p.subscriber) ?? Number.POSITIVE_INFINITY, after))
  }
  const subscribers = new Set(input.pairs.filter(p => p.at >= healAt).map(p => p.subscriber))
  const unreached = [...subscribers].filter(s => !firstAcross.has(s)).length
  const times = [...firstAcross.values()]

  const orders = log.orders.filter(o => o.endedWhileSplit)
  const splitEpochs = input.epochs.map((e, i) => ({ ...e, i })).filter(e => e.start < healAt && e.end > splitAt).map(e => e.i)
  const inSplit = (list: number[]): number[] => list.filter(e => splitEpochs.includes(e))
  const bySide = { a: { providers: 0, outcomes: 0, fails: 0 }, b: { providers: 0, outcomes: 0, fails: 0 } }
  const failedBySplit: PartitionReport['outcomes']['failedBySplit'] = []
  for (const p of input.providers) {
    const s = input.sideOfName(p.id)
    bySide[s].providers++
    bySide[s].outcomes += inSplit(p.passedIn).length + inSplit(p.failedIn).length
    bySide[s].fails += inSplit(p.failedIn).length
    const failed = inSplit(p.failedIn)
    if (p.honest && failed.length > 0) failedBySplit.push({ id: p.id, side: s, epochs: failed, reasons: p.reasons.filter(r => failed.some(e => r.startsWith(`${e}:`))) })
  }
  const count = (s: Side, role: string): number => input.members.filter(m => m.role === role && input.sideOfName(m.name) === s).length
  const sideCounts = (s: Side): PartitionReport['sides'][Side] => ({ gateways: count(s, 'gateway'), checkers: count(s, 'checker'), providers: count(s, 'provider'), users: count(s, 'user') })
  const lookups = (list: TimedResult[]): { lookups: number, ok: number } => ({ lookups: list.length, ok: list.filter(d => d.ok).length })

  return {
    splitAtMs: splitAt - t0,
    healAtMs: log.healAt != null ? log.healAt - t0 : NaN,
    sides: { a: sideCounts('a'), b: sideCounts('b') },
    connectionsCut: log.connectionsCut,
    crossConnectionsWhileSplit: log.crossConnectionsSeen,
    gossip: {
      sameSide: { a: sameSide('a'), b: sameSide('b') },
      acrossSplit: delivery(whileSplit.filter(across)),
      healFirstMs: times.length > 0 ? Math.min(...times) : null,
      healAllMs: times.length > 0 && unreached === 0 ? Math.max(...times) : null,
      unreached,
      afterHeal: delivery(times.length > 0 && unreached === 0 ? input.pairs.filter(p => across(p) && p.at >= healAt + Math.max(...times)) : []),
      allowanceMs: input.allowanceMs
    },
    orders: {
      total: log.orders.length,
      straddled: log.orders.length - orders.length,
      ok: orders.filter(o => o.ok).length,
      servable: orders.filter(o => o.servable).length,
      servableOk: orders.filter(o => o.servable && o.ok).length,
      servedOnOtherSide: orders.filter(o => o.ok && o.servedBy !== o.userSide).length,
      unservable: orders.filter(o => !o.servable).length,
      unservableOk: orders.filter(o => !o.servable && o.ok).length,
      failures: orders.flatMap(o => o.error != null ? [`${o.servable ? '' : '[only the other side serves it] '}${o.error}`] : [])
    },
    dht: { sameSide: lookups(log.dhtSameSide), acrossSplit: lookups(log.dhtAcross) },
    outcomes: {
      epochs: splitEpochs,
      bySide,
      honestFailedBySplit: failedBySplit.length,
      failedBySplit
    }
  }
}
