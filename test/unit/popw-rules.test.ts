// The rules of Proof of Physical Work as pure functions: assignment (deterministic, seed
// dependent, balanced), the outcome rule (quorum of the counted checkers, backups standing in
// for checkers that did not commit, reveals without commitments not counting), the check anyone
// can run on an outcome (every kind of tampering fails it), what a settlement pays and charges,
// and the scores the scheduler reads.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { candidates, quorum, rankCheckers, settlerOrder, type Member } from '../../protocols/popw/assignment.js'
import { EpochSchedule } from '../../protocols/popw/epoch.js'
import { checkOutcome, decideOutcome, majorityOf, type EpochView } from '../../protocols/popw/outcome.js'
import { Outcome, PopwMessage, Verdict, VerdictResult } from '../../protocols/popw/popw.js'
import { commitment, keyOf, newSalt, signVerdict, verifyVerdict, wireResult, type Result } from '../../protocols/popw/verdict.js'
import { CommitRevealPool } from '../../node/popw/pool.js'
import { EpochContext, EpochRegistry } from '../../node/popw/registry.js'
import { validatePopwMessage } from '../../node/popw/validation.js'
import { ProviderScores, NEUTRAL_SCORE } from '../../node/popw/scores.js'
import { massUnreachable, overlapMs, settlementFor } from '../../node/popw/settlement.js'
import type { CheckerLicence, LeaseEscrow, Ledger, ProviderRegistration } from '../../chain/ledger.js'
import type { PrivateKey } from '@libp2p/interface'

interface Actor extends Member { privateKey: PrivateKey }

async function actors (n: number, prefix: string): Promise<Actor[]> {
  return await Promise.all([...Array(n).keys()].map(async i => {
    const privateKey = await generateKeyPair('Ed25519')
    const peer = peerIdFromPrivateKey(privateKey)
    return { privateKey, peerId: peer.toString(), key: keyOf(peer), address: `${prefix}-${i}` }
  }))
}

const seed = (): Uint8Array => new Uint8Array(randomBytes(32))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

async function verdictOf (checker: Actor, provider: Member, epoch: number, result: Result, reasons = ['unreachable']): Promise<Verdict> {
  return await signVerdict(checker.privateKey, {
    epoch: BigInt(epoch), provider: provider.key, checker: checker.key, result: wireResult(result), reasons: result === 'fail' ? reasons : [],
    rttMs: 1, bandwidthMbps: 100, challengeN: 64, challengeMs: 5, deadlineMs: 300, claimedClass: 'cpu', leasesChecked: 0, leasesOk: 0
  })
}

test('assignment: deterministic for a seed, different for another, every provider gets k + backups distinct checkers', async () => {
  const checkers = await actors(10, 'c')
  const providers = await actors(40, 'p')
  const s = seed()
  const load = new Map<string, number>()
  for (const p of providers) {
    const c = candidates(s, p.key, checkers, { k: 3, backups: 1 })
    assert.is(c.length, 4)
    assert.is(new Set(c.map(x => x.peerId)).size, 4)
    assert.equal(c.map(x => x.peerId), candidates(s, p.key, [...checkers].reverse(), { k: 3, backups: 1 }).map(x => x.peerId), 'order of the input does not matter')
    for (const x of c.slice(0, 3)) load.set(x.peerId, (load.get(x.peerId) ?? 0) + 1)
  }
  const other = seed()
  assert.ok(providers.some(p => hex(rankCheckers(s, p.key, checkers)[0]?.key ?? new Uint8Array()) !== hex(rankCheckers(other, p.key, checkers)[0]?.key ?? new Uint8Array())), 'another seed, another assignment')
  assert.ok(Math.max(...load.values()) <= 30, `no checker gets most of the work: ${JSON.stringify([...load.values()])}`)
  assert.equal(settlerOrder(s, checkers).map(c => c.peerId), settlerOrder(s, [...checkers].reverse()).map(c => c.peerId))
  assert.equal([1, 2, 3, 4, 5, 6].map(quorum), [1, 2, 2, 3, 4, 4])
})

test('epochs: windows in order; commits on time until the commit window closes, reveals after it', () => {
  const s = new EpochSchedule(10_000)
  const t = s.times(7)
  assert.ok(t.start < t.probeEnd && t.probeEnd < t.commitClose && t.commitClose < t.end && t.end < t.revealClose && t.revealClose < t.outcomesAt)
  assert.is(s.epochAt(t.start), 7)
  assert.is(s.commitOnTime(7, t.probeEnd), 'ok')
  assert.is(s.commitOnTime(7, t.commitClose + 1000), 'late')
  assert.is(s.revealOnTime(7, t.probeEnd), 'early')
  assert.is(s.revealOnTime(7, t.commitClose + 100), 'ok')
  assert.is(s.revealOnTime(7, t.revealClose + 1000), 'late')
  assert.throws(() => new EpochSchedule(10))
})

async function scenario (): Promise<{ view: EpochView, checkers: Actor[], provider: Actor, order: Actor[] }> {
  const checkers = await actors(5, 'c')
  const [provider] = await actors(1, 'p')
  const view: EpochView = { epoch: 42, seed: seed(), checkers, providers: [provider as Actor], params: { k: 3, backups: 1 } }
  const order = candidates(view.seed, (provider as Actor).key, checkers, view.params) as Actor[]
  return { view, checkers, provider: provider as Actor, order }
}

test('outcomes: 2 of 3 decide; an offline assigned checker is replaced by the backup; a reveal without commitment does not count', async () => {
  const { view, provider, order } = await scenario()
  const [a, b, c, backup] = order as [Actor, Actor, Actor, Actor]
  const v = new Map<string, Verdict>()
  for (const [x, r] of [[a, 'pass'], [b, 'pass'], [c, 'fail'], [backup, 'pass']] as Array<[Actor, Result]>) v.set(x.peerId, await verdictOf(x, provider, 42, r))
  const all = (m: Member): boolean => m != null
  const o = decideOutcome(view, provider, all, m => v.get(m.peerId))
  assert.is(o?.result, VerdictResult.PASS)
  assert.equal(o?.assigned.map(hex), [a, b, c].map(x => hex(x.key)), 'the first three are counted')
  assert.is(o?.verdicts.length, 4, 'the backup\'s verdict is carried, not counted')
  assert.equal(majorityOf(o as Outcome).majority.map(hex), [a, b].map(x => hex(x.key)))
  assert.equal(majorityOf(o as Outcome).minority.map(hex), [hex(c.key)])
  assert.equal(await checkOutcome(o as Outcome, view), { ok: true, result: 'pass' })

  // `a` is offline (no commitment): the backup takes its place.
  const o2 = decideOutcome(view, provider, m => m.peerId !== a.peerId, m => m.peerId === a.peerId ? undefined : v.get(m.peerId))
  assert.equal(o2?.assigned.map(hex), [b, c, backup].map(x => hex(x.key)))
  assert.is(o2?.result, VerdictResult.PASS)
  // `a` and `b` reveal without commitments: the pool never holds those reveals, so `c` and the backup cannot reach 2 of 3 together.
  const o3 = decideOutcome(view, provider, m => m.peerId === c.peerId || m.peerId === backup.peerId, m => m.peerId === c.peerId || m.peerId === backup.peerId ? v.get(m.peerId) : undefined)
  assert.is(o3, undefined, 'pass 1 / fail 1 out of k = 3: no outcome')
  // One verdict each way and one missing: no quorum either.
  assert.is(decideOutcome(view, provider, all, m => m.peerId === a.peerId ? v.get(a.peerId) : m.peerId === c.peerId ? v.get(c.peerId) : undefined), undefined)
})

test('outcomes: tampering fails the check anyone can run', async () => {
  const { view, checkers, provider, order } = await scenario()
  const v = new Map<string, Verdict>()
  for (const x of order) v.set(x.peerId, await verdictOf(x, provider, 42, 'fail'))
  const o = decideOutcome(view, provider, () => true, m => v.get(m.peerId)) as Outcome
  assert.equal(await checkOutcome(o, view), { ok: true, result: 'fail' })
  const outsider = checkers.find(c => !order.some(o2 => o2.peerId === c.peerId)) as Actor
  const flipped: Outcome = { ...o, result: VerdictResult.PASS }
  const wrongEpoch: Outcome = { ...o, epoch: 41n }
  const badSig: Outcome = { ...o, verdicts: o.verdicts.map((x, i) => i === 0 ? { ...x, signature: new Uint8Array(randomBytes(64)) } : x) }
  const stranger: Outcome = { ...o, verdicts: [...o.verdicts.slice(1), await verdictOf(outsider, provider, 42, 'fail')] }
  const reordered: Outcome = { ...o, assigned: [...o.assigned].reverse() }
  const twice: Outcome = { ...o, verdicts: [o.verdicts[0] as Verdict, o.verdicts[0] as Verdict, o.verdicts[1] as Verdict] }
  const tooFew: Outcome = { ...o, verdicts: o.verdicts.slice(0, 1) }
  const changed: Outcome = { ...o, verdicts: o.verdicts.map((x, i) => i === 0 ? { ...x, rttMs: 999 } : x) }
  for (const [name, bad, reason] of [
    ['flipped result', flipped, 'no-quorum'], ['wrong epoch', wrongEpoch, 'wrong-epoch'], ['bad signature', badSig, 'bad-verdict-signature'],
    ['a non-candidate verdict', stranger, 'verdict-not-candidate'], ['assignment out of order', reordered, 'bad-assignment'],
    ['a verdict twice', twice, 'verdict-not-candidate'], ['too few verdicts', tooFew, 'no-quorum'], ['a changed verdict', changed, 'bad-verdict-signature']
  ] as Array<[string, Outcome, string]>) {
    assert.equal(await checkOutcome(bad, view), { ok: false, reason }, name)
  }
  // Encoding round trip: what is hashed into the tree is what is checked.
  assert.equal(await checkOutcome(Outcome.decode(Outcome.encode(o)), view), { ok: true, result: 'fail' })
})

test('verdicts: signed by their checker; the commitment binds verdict and salt', async () => {
  const [c] = await actors(1, 'c')
  const [p] = await actors(1, 'p')
  const v = await verdictOf(c as Actor, p as Actor, 1, 'pass')
  assert.ok(await verifyVerdict(v))
  assert.not.ok(await verifyVerdict({ ...v, result: VerdictResult.FAIL }))
  const salt = newSalt()
  assert.equal(commitment(v, salt), commitment(v, salt))
  assert.not.equal(commitment(v, salt), commitment(v, newSalt()))
  assert.not.equal(commitment(v, salt), commitment({ ...v, result: VerdictResult.FAIL }, salt))
  // A verifier that has the encoding hands it in (the signed body is cut from it): the same answers.
  const failing = await verdictOf(c as Actor, p as Actor, 1, 'fail', ['unreachable', 'challenge-deadline'])
  const encoded = Verdict.encode(failing)
  assert.ok(await verifyVerdict(failing, encoded))
  assert.equal(commitment(failing, salt, encoded), commitment(failing, salt))
  const forged = { ...failing, reasons: ['unreachable'] }
  assert.not.ok(await verifyVerdict(forged, Verdict.encode(forged)))
  const resigned = { ...failing, signature: failing.signature.subarray(0, 63) }
  assert.not.ok(await verifyVerdict(resigned, Verdict.encode(resigned)))
})

test('epoch context: each checker\'s duties are the providers whose candidates it is among (cached, as ranked fresh)', async () => {
  const checkers = await actors(6, 'c')
  const providers = await actors(12, 'p')
  const ctx = new EpochContext({ epoch: 4, times: new EpochSchedule(60_000).times(4), seed: seed(), seedHeight: 1, checkers, providers, params: { k: 3, backups: 1 } })
  let assignments = 0
  for (const c of checkers) {
    const duties = ctx.dutiesOf(c.key)
    assert.is(ctx.dutiesOf(c.key), duties, 'asked twice, the same list')
    const fresh = providers.filter(p => candidates(ctx.seed, p.key, checkers, ctx.params).some(m => m.peerId === c.peerId))
    assert.equal(duties.map(p => p.peerId), fresh.map(p => p.peerId))
    for (const p of providers) assert.is(ctx.isCandidate(p, c.key), duties.includes(p))
    assignments += duties.length
  }
  assert.is(assignments, providers.length * 4) // k + backups per provider
  assert.is(ctx.isCandidate(providers[0] as Actor, (providers[1] as Actor).key), false) // a provider is no checker
})

test('epoch registry: members parsed once for every node and epoch; a bad peer id left out, a new address read anew', async () => {
  const checkers = await actors(4, 'c')
  const providers = await actors(6, 'p')
  let registered: ProviderRegistration[] = providers.map(p => ({ address: p.address, peerId: p.peerId, stake: 1n, registeredAt: 1 }))
  registered.push({ address: 'p-bad', peerId: 'not-a-peer-id', stake: 1n, registeredAt: 1 })
  const licences: CheckerLicence[] = checkers.map(c => ({ address: c.address, peerId: c.peerId, stake: 1n, licensedAt: 1, eligible: true }))
  // The two reads an epoch context makes; the rest of the ledger is not used. This ledger always answers with the whole registry.
  let head = 5
  const ledger = {
    seedAt: async () => ({ seed: `0x${'ab'.repeat(32)}`, height: head }),
    registryChanges: async () => ({ height: head, full: true, providers: registered, checkers: licences })
  } as unknown as Ledger
  const params = { schedule: new EpochSchedule(60_000), params: { k: 3, backups: 1 } }
  const logger = pino({ level: 'silent' })
  const nodeA = new EpochRegistry({ ledger, logger }, params)
  const nodeB = new EpochRegistry({ ledger, logger }, params)
  const a1 = await nodeA.context(1)
  const b1 = await nodeB.context(1)
  const a2 = await nodeA.context(2)
  assert.equal(a1.providers.map(p => p.peerId), providers.map(p => p.peerId), 'the bad peer id is left out')
  assert.equal(a1.providers.map(p => hex(p.key)), providers.map(p => hex(p.key)))
  a1.providers.forEach((m, i) => {
    assert.is(b1.providers[i], m, 'another node shares the member')
    assert.is(a2.providers[i], m, 'the next epoch reuses it')
  })
  assert.is(b1.checkers[0], a1.checkers[0])
  // The providers' rankings too: one per (seed, checkers, k + backups) in the process, as a fresh ranking gives.
  const p0 = a1.providers[0] as Member
  assert.is(b1.candidatesOf(p0), a1.candidatesOf(p0), 'another node shares the ranking')
  assert.equal(a1.candidatesOf(p0).map(c => c.peerId), candidates(a1.seed, p0.key, a1.checkers, a1.params).map(c => c.peerId))
  assert.is.not(a2.candidatesOf(p0), a1.candidatesOf(p0), 'another epoch (another seed) ranks anew')
  const wider = await new EpochRegistry({ ledger, logger }, { ...params, params: { k: 3, backups: 0 } }).context(1)
  assert.is(wider.candidatesOf(p0).length, 3, 'other parameters rank anew')
  registered = registered.map((r, i) => i === 0 ? { ...r, address: 'p-moved' } : r)
  head = 6
  const a3 = await nodeA.context(3)
  assert.is(a3.providers.length, providers.length, 'a full answer replaces the copy')
  assert.is(a3.providers.at(-1)?.address, 'p-moved', 'sorted by address')
  assert.is(a3.providers.at(-1)?.peerId, providers[0]?.peerId)
  assert.is(a3.providers[0], a1.providers[1])
})

test('settlement: rewards only for counted agreeing checkers without dissent, penalties per failing provider, points for lease time in failed epochs', async () => {
  const checkers = await actors(4, 'c')
  const providers = await actors(2, 'p')
  const [good, bad] = providers as [Actor, Actor]
  const ctx = new EpochContext({ epoch: 9, times: new EpochSchedule(60_000).times(9), seed: seed(), seedHeight: 1, checkers, providers, params: { k: 3, backups: 1 } })
  const verdicts = async (p: Actor, results: Result[]): Promise<Map<string, Verdict>> => {
    const order = ctx.candidatesOf(p) as Actor[]
    return new Map(await Promise.all(order.map(async (c, i) => [c.peerId, await verdictOf(c, p, 9, results[i] ?? 'pass')] as const)))
  }
  const vg = await verdicts(good, ['pass', 'pass', 'fail', 'pass']) // the third counted checker dissents
  const vb = await verdicts(bad, ['fail', 'fail', 'fail', 'fail'])
  const og = decideOutcome(ctx, good, () => true, m => vg.get(m.peerId)) as Outcome
  const ob = decideOutcome(ctx, bad, () => true, m => vb.get(m.peerId)) as Outcome
  // The context's cached candidates decide as a plain view's fresh ranking does.
  const plain = { epoch: ctx.epoch, seed: ctx.seed, checkers: ctx.checkers, providers: ctx.providers, params: ctx.params }
  assert.equal(decideOutcome(plain, good, () => true, m => vg.get(m.peerId)), og)
  assert.equal(decideOutcome(plain, bad, () => true, m => vb.get(m.peerId)), ob)
  const dissenter = (ctx.candidatesOf(good)[2] as Actor).address
  const start = ctx.times.start
  const escrows: LeaseEscrow[] = [
    { leaseId: 'L1', user: 'u1', provider: bad.address, amount: 10n ** 12n, pricePerHour: 3_600_000n, maxSeconds: 3600, startedAt: start - 30_000, status: 'running', paidToProvider: 0n, refunded: 0n },
    { leaseId: 'L2', user: 'u2', provider: bad.address, amount: 10n ** 12n, pricePerHour: 3_600_000n, maxSeconds: 3600, startedAt: start - 90_000, closedAt: start - 1, status: 'closed', paidToProvider: 0n, refunded: 0n }
  ]
  const call = await settlementFor(ctx, [og, ob].sort((x, y) => Buffer.compare(x.provider, y.provider)), { reward: 10n, penalty: 1000n }, async a => escrows.filter(e => e.provider === a))
  assert.is(call.outcomeCount, 2)
  assert.equal(call.dissenters, [dissenter])
  assert.not.ok(call.rewards.some(r => r.to === dissenter), 'a dissenter earns nothing in the epoch')
  const counted = new Map<string, number>()
  for (const o of [og, ob]) for (const k of majorityOf(o).majority) { const a = checkers.find(c => hex(c.key) === hex(k))?.address ?? ''; counted.set(a, (counted.get(a) ?? 0) + 1) }
  for (const r of call.rewards) assert.is(r.amount, 10n * BigInt(counted.get(r.to) ?? 0))
  assert.equal(call.penalties, [{ provider: bad.address, amount: 1000n }])
  // u1's lease ran the whole epoch: 60 s at 3.6e6 per hour = 60,000. u2's closed before it began.
  assert.equal(call.points, [{ to: 'u1', amount: 60_000n }])
  assert.is(overlapMs(escrows[0] as LeaseEscrow, start, start + 60_000), 60_000)
})

test('settlement: an occasional minority verdict forfeits the epoch\'s rewards; only dissent in more than a third of a checker\'s outcomes is a strike', async () => {
  // Three checkers, k = 3: each counts in every outcome. `x` is wrong about one provider of four.
  const checkers = await actors(3, 'c')
  const providers = await actors(4, 'p')
  const ctx = new EpochContext({ epoch: 3, times: new EpochSchedule(60_000).times(3), seed: seed(), seedHeight: 1, checkers, providers, params: { k: 3, backups: 0 } })
  const x = checkers[0] as Actor
  const outcomes: Outcome[] = []
  for (const [i, p] of providers.entries()) {
    const v = new Map(await Promise.all(checkers.map(async c => [c.peerId, await verdictOf(c, p, 3, c === x && i === 0 ? 'fail' : 'pass')] as const)))
    outcomes.push(decideOutcome(ctx, p, () => true, m => v.get(m.peerId)) as Outcome)
  }
  const call = await settlementFor(ctx, outcomes.sort((a, b) => Buffer.compare(a.provider, b.provider)), { reward: 10n, penalty: 1n }, async () => [])
  assert.equal(call.dissenters, [], '1 wrong of 4 is not a strike')
  assert.not.ok(call.rewards.some(r => r.to === x.address), 'but it forfeits the epoch\'s rewards')
  assert.is(call.rewards.length, 2)
})

test('settlement: when many providers fail only as unreachable (a partition, a regional outage), they keep their stake; their users still get points', async () => {
  const checkers = await actors(4, 'c')
  const providers = await actors(8, 'p')
  const ctx = new EpochContext({ epoch: 5, times: new EpochSchedule(60_000).times(5), seed: seed(), seedHeight: 1, checkers, providers, params: { k: 3, backups: 1 } })
  const settle = async (unreachable: number): Promise<{ call: Awaited<ReturnType<typeof settlementFor>>, cut: Actor[], slow: Actor }> => {
    const cut = providers.slice(0, unreachable)
    const slow = providers[7] as Actor // fails for a reason of its own, in every case
    const outcomes: Outcome[] = []
    for (const p of providers) {
      const result: Result = cut.includes(p) || p === slow ? 'fail' : 'pass'
      const reasons = p === slow ? ['challenge-deadline'] : ['unreachable']
      const v = new Map(await Promise.all(ctx.candidatesOf(p).map(async c => [c.peerId, await verdictOf(c as Actor, p, 5, result, reasons)] as const)))
      outcomes.push(decideOutcome(ctx, p, () => true, m => v.get(m.peerId)) as Outcome)
    }
    const escrows = (a: string): LeaseEscrow[] => a === (providers[0] as Actor).address
      ? [{ leaseId: 'L', user: 'u', provider: a, amount: 10n ** 12n, pricePerHour: 3_600_000n, maxSeconds: 3600, startedAt: ctx.times.start, status: 'running', paidToProvider: 0n, refunded: 0n }]
      : []
    const call = await settlementFor(ctx, outcomes.sort((a, b) => Buffer.compare(a.provider, b.provider)), { reward: 10n, penalty: 1000n }, async a => escrows(a))
    return { call, cut, slow }
  }
  // 3 of 8 unreachable (more than a quarter, at least MASS_UNREACHABLE_MIN): spared.
  const split = await settle(3)
  assert.equal(split.call.penalties, [{ provider: split.slow.address, amount: 1000n }], 'only the provider failing for its own reason pays')
  assert.equal(split.call.points, [{ to: 'u', amount: 60_000n }], 'the cut-off provider\'s user is still refunded in points')
  assert.is(massUnreachable([]).size, 0)
  // 2 of 8: an ordinary pair of offline providers, penalised.
  const two = await settle(2)
  assert.equal(two.call.penalties.map(p => p.provider).sort(), [...two.cut.map(p => p.address), two.slow.address].sort())
})

test('scores: neutral without outcomes, up with passes, down with fails, schedulable after a pass', () => {
  const s = new ProviderScores()
  assert.is(s.score('nobody'), NEUTRAL_SCORE)
  assert.is(s.get('nobody').schedulable, false)
  const outcome = (result: VerdictResult): Outcome => ({ epoch: 1n, provider: new Uint8Array([0, 36, 8, 1, 18, 32, ...new Uint8Array(32).fill(7)]), result, assigned: [], verdicts: [] })
  const id = (): string => [...s.list()][0]?.peerId ?? ''
  s.apply(1, [outcome(VerdictResult.PASS)])
  assert.ok(s.score(id()) > NEUTRAL_SCORE)
  assert.ok(s.get(id()).schedulable)
  s.apply(2, [outcome(VerdictResult.FAIL)])
  s.apply(3, [outcome(VerdictResult.FAIL)])
  assert.ok(s.score(id()) < NEUTRAL_SCORE)
  assert.not.ok(s.get(id()).schedulable, 'a failing provider drops out until it passes again')
  s.apply(3, [outcome(VerdictResult.PASS)])
  assert.is(s.get(id()).passes, 1, 'an epoch is counted once')
})


test('reveal validation: what the bytes decide is found once a process, what each node has seen decides the rest', async () => {
  const [c] = await actors(1, 'c') as [Actor]
  const providers = await actors(2, 'p')
  const [p1, p2] = providers as [Actor, Actor]
  const schedule = new EpochSchedule(60_000)
  const ctx = new EpochContext({ epoch: 4, times: schedule.times(4), seed: seed(), seedHeight: 1, checkers: [c], providers, params: { k: 1, backups: 0 } })
  const registry = { schedule, context: async () => ctx } as unknown as EpochRegistry
  const now = (): number => schedule.times(4).commitClose + 1
  const signer = peerIdFromPrivateKey(c.privateKey)
  const [v1, v2] = [await verdictOf(c, p1, 4, 'pass'), await verdictOf(c, p2, 4, 'fail')]
  const [s1, s2] = [newSalt(), newSalt()]
  const reveal = (entries: Array<{ verdict: Verdict, salt: Uint8Array<ArrayBuffer> }>): { msg: PopwMessage, from: { signer: typeof signer, payload: Uint8Array } } => {
    const msg: PopwMessage = { reveal: { epoch: 4n, part: 0, entries } }
    return { msg, from: { signer, payload: PopwMessage.encode(msg) } }
  }
  const node = (commits: Array<[Actor, Verdict, Uint8Array]>): { pool: CommitRevealPool, validate: (r: ReturnType<typeof reveal>) => Promise<unknown> } => {
    const pool = new CommitRevealPool()
    pool.addCommitments(4, c.key, commits.map(([p, v, salt]) => ({ provider: p.key, commitment: commitment(v, salt) })))
    return { pool, validate: async r => await validatePopwMessage(r.msg, r.from, { registry, pool, now }) }
  }
  const honest = reveal([{ verdict: v1, salt: s1 }, { verdict: v2, salt: s2 }])
  // Three nodes of one process, one reveal's bytes: the first finds the facts, the others reuse them.
  assert.equal(await node([]).validate(honest), { action: 'ignore', reason: 'no-commit' }, 'never saw the commit')
  const seen = node([[p1, v1, s1], [p2, v2, s2]])
  assert.equal(await seen.validate(honest), { action: 'accept' })
  assert.equal(seen.pool.revealed(4, c.key, p2.key)?.result, VerdictResult.FAIL)
  assert.equal(await node([[p1, v1, s1], [p2, v2, newSalt()]]).validate(honest), { action: 'reject', reason: 'commit-mismatch' }, 'saw another commitment')
  // Other bytes get their own facts: another salt is another commitment, a changed verdict is caught.
  assert.equal(await node([[p1, v1, s1], [p2, v2, s2]]).validate(reveal([{ verdict: v1, salt: s1 }, { verdict: v2, salt: newSalt() }])), { action: 'reject', reason: 'commit-mismatch' })
  const changed = { ...v2, rttMs: v2.rttMs + 1 }
  assert.equal(await node([[p1, v1, s1], [p2, changed, s2]]).validate(reveal([{ verdict: v1, salt: s1 }, { verdict: changed, salt: s2 }])), { action: 'reject', reason: 'bad-verdict-signature' })
  // The same reveal again at a node that took it: a replay.
  assert.equal(await seen.validate(honest), { action: 'reject', reason: 'replayed' })
})

test.run()
