// The semantic checks of kaisar/popw/1 (after the gossip service checked the envelope's
// signature, the CHECKER role and the size): the epoch and its window, the signer's licence
// in that epoch, one message per (epoch, checker, part), each entry for a provider the signer
// is assigned to, each verdict signed by the signer for this epoch, and each reveal matching the
// signer's earlier commitment. Accepted messages go into the pool here, so a second copy made
// later (a replay in a fresh envelope) is refused even if the first is still being handled.
import { createHash } from 'node:crypto'
import { ACCEPT, ignore, reject, type GossipAction, type GossipContext } from '../network/gossip/topic.js'
import { COMMITMENT_BYTES, MAX_ENTRIES, SALT_BYTES, commitment, keyOf, verdictShapeError, verifyVerdict } from '../../protocols/popw/verdict.js'
import { equalBytes } from '../../chain/merkle.js'
import { Verdict, type Commit, type PopwMessage, type Reveal } from '../../protocols/popw/popw.js'
import type { CommitRevealPool } from './pool.js'
import type { EpochContext, EpochRegistry } from './registry.js'

export interface PopwValidationDeps {
  registry: EpochRegistry
  pool: CommitRevealPool
  now: () => number
}

const MAX_PARTS = 64
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** `from`: who signed the message and its payload's bytes (the gossip service's context). */
export async function validatePopwMessage (msg: PopwMessage, from: Pick<GossipContext, 'signer' | 'payload'>, deps: PopwValidationDeps): Promise<GossipAction> {
  const { signer } = from
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
  const action = msg.commit != null ? checkCommit(msg.commit, key, ctx) : await checkReveal(msg.reveal as Reveal, key, from.payload, ctx, deps.pool)
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

/** What a reveal's bytes decide alone: each entry's commitment, or why the reveal is rejected. */
type RevealFacts = { ok: true, commitments: Uint8Array[] } | { ok: false, reason: string }

// The same reveal reaches every node of a process, and everything but the assignment and the
// pool's commitments is the same at each: in the simulator ≈ 50 checkers and gateways per
// process each re-encoded, verified and hashed every verdict of 100 checkers' reveals
// (`checkReveal` was 23 % of a 1,000-node worker's samples during reveals, the reveals stalled
// the process for 30–40 s; sim/README.md, stops 28 and 29). So those facts are found once per
// process, keyed by a hash of the signer and the payload's bytes; a node keeps only its own
// checks. One node in a process (a real one) finds them once per reveal, as before. The promise
// is kept, so nodes validating the same reveal at once wait for one finding.
const FACTS_KEPT = 2048
const revealFacts = new Map<string, Promise<RevealFacts>>()

async function revealFactsOf (r: Reveal, checker: Uint8Array, payload: Uint8Array): Promise<RevealFacts> {
  const key = createHash('sha256').update(checker).update(payload).digest('base64')
  let facts = revealFacts.get(key)
  if (facts == null) {
    facts = findRevealFacts(r, checker)
    // Oldest first out (a Map iterates in insertion order).
    if (revealFacts.size >= FACTS_KEPT) revealFacts.delete(revealFacts.keys().next().value as string)
    revealFacts.set(key, facts)
  }
  return await facts
}

async function findRevealFacts (r: Reveal, checker: Uint8Array): Promise<RevealFacts> {
  const no = (reason: string): RevealFacts => ({ ok: false, reason })
  const providers = new Set<string>()
  const commitments: Uint8Array[] = []
  for (const e of r.entries) {
    const v = e.verdict
    if (v == null || verdictShapeError(v) != null || e.salt.byteLength !== SALT_BYTES || providers.has(hex(v.provider))) return no('malformed-verdict')
    providers.add(hex(v.provider))
    if (!equalBytes(v.checker, checker)) return no('verdict-not-signer')
    if (v.epoch !== r.epoch) return no('wrong-epoch')
    // Encoded once for both: the signature is over the encoding's body, the commitment over all of it.
    const encoded = Verdict.encode(v)
    if (!await verifyVerdict(v, encoded)) return no('bad-verdict-signature')
    commitments.push(commitment(v, e.salt, encoded))
  }
  return { ok: true, commitments }
}

async function checkReveal (r: Reveal, checker: Uint8Array, payload: Uint8Array, ctx: EpochContext, pool: CommitRevealPool): Promise<GossipAction> {
  const facts = await revealFactsOf(r, checker, payload)
  if (!facts.ok) return reject(facts.reason)
  let uncommitted = 0
  for (const [i, e] of r.entries.entries()) {
    const v = e.verdict as Verdict
    const provider = ctx.provider(v.provider)
    if (provider == null || !ctx.isCandidate(provider, checker)) return reject('not-assigned')
    const committed = pool.commitment(ctx.epoch, checker, v.provider)
    if (committed == null) { uncommitted++; continue }
    if (!equalBytes(committed, facts.commitments[i] as Uint8Array)) return reject('commit-mismatch')
  }
  // Revealing what was never committed proves nothing (it may copy others): it does not count.
  if (uncommitted > 0) return ignore('no-commit')
  return ACCEPT
}
