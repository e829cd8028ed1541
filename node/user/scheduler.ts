// Choosing among quotes (DESIGN §1.5): cheapest first, then checker score (neutral until
// outcomes exist), round-trip time and free capacity. `explain` says why, for `order --json`.
import type { Quote } from '../../protocols/lease/messages.js'
import type { ProviderScores } from '../popw/scores.js'

export interface Candidate {
  quote: Quote
  rttMs: number
  /** 0..1 from checkers' outcomes; 0.5 (neutral) until there are any. */
  score: number
  addresses: string[]
}

export interface Ranked extends Candidate { rank: number, cost: number, why: string }

/** Lower is better. Price dominates; a bad score or a slow link can outweigh a small price gap. */
export function rankCandidates (candidates: Candidate[], maxPricePerHour?: bigint): { ranked: Ranked[], rejected: Array<{ provider: string, why: string }> } {
  const rejected: Array<{ provider: string, why: string }> = []
  const ok = candidates.filter(c => {
    if (!c.quote.available) { rejected.push({ provider: c.quote.provider, why: c.quote.reason ?? 'not available' }); return false }
    if (maxPricePerHour != null && BigInt(c.quote.pricePerHour) > maxPricePerHour) { rejected.push({ provider: c.quote.provider, why: `price ${c.quote.pricePerHour}/h above the maximum ${maxPricePerHour}/h` }); return false }
    return true
  })
  const cheapest = ok.reduce((m, c) => { const p = Number(BigInt(c.quote.pricePerHour)); return p < m ? p : m }, Number.POSITIVE_INFINITY)
  const ranked = ok.map(c => {
    const price = Number(BigInt(c.quote.pricePerHour))
    const priceRatio = cheapest > 0 ? price / cheapest : 1
    const scorePenalty = (0.5 - c.score) * 0.5 // ±25 % for the worst/best score
    const rttPenalty = Math.min(c.rttMs, 1000) / 1000 * 0.1 // up to 10 % for a 1 s round trip
    const capacityBonus = c.quote.free.gpus > 0 || c.quote.free.cpus > 0 ? -0.01 : 0
    const cost = priceRatio + scorePenalty + rttPenalty + capacityBonus
    return { ...c, rank: 0, cost, why: `price ×${priceRatio.toFixed(2)} of the cheapest, score ${c.score.toFixed(2)}, rtt ${c.rttMs.toFixed(0)} ms, free ${c.quote.free.cpus} cpu / ${c.quote.free.gpus} gpu` }
  }).sort((a, b) => a.cost - b.cost || a.quote.provider.localeCompare(b.quote.provider))
  ranked.forEach((r, i) => { r.rank = i + 1 })
  return { ranked, rejected }
}

/**
 * Which providers may be asked for a quote, by the network's checkers: once any epoch has
 * settled (`settledEpochs` > 0), only providers whose latest outcome is a pass (a new provider
 * waits for its first check, DESIGN §1.3); before that, everyone (a network without checkers).
 */
export function checkedProviders<P extends { peerId: string }> (providers: readonly P[], scores: ProviderScores, settledEpochs: number): { ok: P[], rejected: Array<{ provider: string, why: string }> } {
  if (settledEpochs === 0) return { ok: [...providers], rejected: [] }
  const rejected: Array<{ provider: string, why: string }> = []
  const ok = providers.filter(p => {
    const s = scores.get(p.peerId)
    if (s.schedulable) return true
    rejected.push({ provider: p.peerId, why: s.lastResult === 'fail' ? `failed its latest check (epoch ${s.lastEpoch ?? '?'})` : 'not yet passed a check by the network\'s checkers' })
    return false
  })
  return { ok, rejected }
}
