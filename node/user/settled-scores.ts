// Provider scores for a user's scheduler, from checkers' settled outcomes (DESIGN §1.3).
// A gateway hands over the outcomes of its newest settled epochs; each epoch counts only if its
// outcomes hash to the root the ledger holds for that epoch (the light-client check: the ledger
// took the settlement from a licensed checker, and nodes that adopt it check every signature).
// No gateway answering, or no settled epoch, leaves every provider neutral.
import { peerIdFromString } from '@libp2p/peer-id'
import { toHex } from '../../chain/merkle.js'
import { PROTOCOLS } from '../../protocols/ids.js'
import { Outcome, outcomeTree, sortOutcomes } from '../../protocols/popw/outcome.js'
import { RECENT_EPOCHS_MAX, recentOutcomesReplySchema } from '../../protocols/popw/messages.js'
import { request } from '../network/reqresp.js'
import { ProviderScores } from '../popw/scores.js'
import type { Ledger } from '../../chain/ledger.js'
import type { Logger } from '../log.js'
import type { KaisarLibp2p } from '../network/libp2p.js'

export interface SettledScores {
  scores: ProviderScores
  /** The epochs that verified against the ledger (oldest first); empty: no checker outcomes yet. */
  epochs: number[]
  /** Epochs a gateway offered that did not match the ledger's root (not used). */
  rejected: number[]
}

export async function settledScores (c: { libp2p: KaisarLibp2p, ledger: Ledger, logger: Logger }, gateways: readonly string[], opts: { epochs?: number, timeoutMs?: number } = {}): Promise<SettledScores> {
  const scores = new ProviderScores()
  const out: SettledScores = { scores, epochs: [], rejected: [] }
  const recent = Math.min(opts.epochs ?? 12, RECENT_EPOCHS_MAX)
  for (const gateway of gateways) {
    let offered
    try {
      offered = recentOutcomesReplySchema.parse(await request(c.libp2p, peerIdFromString(gateway), PROTOCOLS.outcomes, { recent }, { timeoutMs: opts.timeoutMs ?? 5_000 })).epochs
    } catch (err) {
      c.logger.debug({ gateway, err: (err as Error).message }, 'no settled outcomes from this gateway')
      continue
    }
    for (const { epoch, outcomes: wire } of [...offered].sort((a, b) => a.epoch - b.epoch)) {
      const settlement = await c.ledger.settlement(epoch)
      let outcomes: Outcome[] | undefined
      try { outcomes = sortOutcomes(wire.map(b => Outcome.decode(Buffer.from(b, 'base64')))) } catch {}
      if (settlement == null || outcomes == null || outcomes.length !== settlement.outcomeCount || toHex(outcomeTree(outcomes).root) !== settlement.outcomeRoot) {
        out.rejected.push(epoch)
        continue
      }
      scores.apply(epoch, outcomes)
      out.epochs.push(epoch)
    }
    if (out.epochs.length > 0) break
  }
  return out
}
