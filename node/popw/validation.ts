// The semantic checks of kaisar/popw/1 (after the gossip service checked the envelope's
// signature, the CHECKER role and the size): the epoch and its window, the signer's licence
// in that epoch, one message per (epoch, checker, part), each entry for a provider the signer
// is assigned to, each verdict signed by the signer for this epoch, and each reveal matching the
// signer's earlier commitment. Accepted messages go into the pool here, so a second copy made
// later (a replay in a fresh envelope) is refused even if the first is still being handled.
import { ACCEPT, ignore, reject, type GossipAction } from '../network/gossip/topic.js'
import { COMMITMENT_BYTES, MAX_ENTRIES, SALT_BYTES, commitment, keyOf, verdictShapeError, verifyVerdict } from '../../protocols/popw/verdict.js'
import { equalBytes } from '../../chain/merkle.js'
import type { Commit, PopwMessage, Reveal, Verdict } from '../../protocols/popw/popw.js'
import type { CommitRevealPool } from './pool.js'
import type { EpochContext, EpochRegistry } from './registry.js'
import type { PeerId } from '@libp2p/interface'

export interface PopwValidationDeps {
  registry: EpochRegistry
  pool: CommitRevealPool
  now: () => number
}

const MAX_PARTS = 64
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

export async function validatePopwMessage (msg: PopwMessage, signer: PeerId, deps: PopwValidationDeps): Promise<GossipAction> {
  if ((msg.commit == null) === (msg.reveal == null)) return reject('malformed-payload')
  const body = (msg.commit ?? msg.reveal) as Commit | Reveal
  if (body.entries.length === 0 || body.entries.length > MAX_ENTRIES || body.part >= MAX_PARTS) return reject('malformed-payload')
  const kind = msg.commit != null ? 'commit' : 'reveal'
  const epoch = Number(body.epoch)
  const schedule = deps.registry.schedule
  const now = deps.now()
  const timing = kind === 'commit' ? schedule.commitOnTime(epoch, now) : schedule.revealOnTime(epoch, now)
  if (timing !== 'ok') {
    const current = schedule.epochAt(now)
    // A reveal before its commit window closed would let others copy it: a violation, not lateness.
    if (kind === 'reveal' && timing === 'early' && epoch === current) return reject('early-reveal')
    if (epoch > current || epoch < current - 1) return reject('wrong-epoch')
    return ignore(timing === 'late' ? `late-${kind}` : `early-${kind}`)
  }
  let ctx: EpochContext
  try { ctx = await deps.registry.context(epoch) } catch { return ignore('no-epoch-context') }
  const key = keyOf(signer)
  if (ctx.checker(key) == null) return reject('ineligible-checker')
  if (deps.pool.seen(epoch, kind, key, body.part)) return reject('replayed')
  const action = msg.commit != null ? checkCommit(msg.commit, key, ctx) : await checkReveal(msg.reveal as Reveal, key, ctx, deps.pool)
  if (action.action !== 'accept') return action
  deps.pool.markSeen(epoch, kind, key, body.part)
  if (msg.commit != null) deps.pool.addCommitments(epoch, key, msg.commit.entries)
  else deps.pool.addReveals(epoch, key, (msg.reveal as Reveal).entries.map(e => e.verdict as Verdict))
  return ACCEPT
}

function checkCommit (c: Commit, checker: Uint8Array, ctx: EpochContext): GossipAction {
  const providers = new Set<string>()
  for (const e of c.entries) {
    if (e.commitment.byteLength !== COMMITMENT_BYTES || providers.has(hex(e.provider))) return reject('malformed-payload')
    providers.add(hex(e.provider))
    const provider = ctx.provider(e.provider)
    if (provider == null || !ctx.isCandidate(provider, checker)) return reject('not-assigned')
  }
  return ACCEPT
}

async function checkReveal (r: Reveal, checker: Uint8Array, ctx: EpochContext, pool: CommitRevealPool): Promise<GossipAction> {
  const providers = new Set<string>()
  let uncommitted = 0
  for (const e of r.entries) {
    const v = e.verdict
    if (v == null || verdictShapeError(v) != null || e.salt.byteLength !== SALT_BYTES || providers.has(hex(v.provider))) return reject('malformed-verdict')
    providers.add(hex(v.provider))
    if (!equalBytes(v.checker, checker)) return reject('verdict-not-signer')
    if (v.epoch !== r.epoch) return reject('wrong-epoch')
    const provider = ctx.provider(v.provider)
    if (provider == null || !ctx.isCandidate(provider, checker)) return reject('not-assigned')
    if (!await verifyVerdict(v)) return reject('bad-verdict-signature')
    const committed = pool.commitment(ctx.epoch, checker, v.provider)
    if (committed == null) { uncommitted++; continue }
    if (!equalBytes(committed, commitment(v, e.salt))) return reject('commit-mismatch')
  }
  // Revealing what was never committed proves nothing (it may copy others): it does not count.
  if (uncommitted > 0) return ignore('no-commit')
  return ACCEPT
}
