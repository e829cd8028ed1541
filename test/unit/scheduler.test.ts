// The user's scheduler: which providers are asked for quotes (checkers' outcomes), and how the
// quotes are ranked (price, then score, round-trip time, free capacity).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ProviderScores } from '../../node/popw/scores.js'
import { checkedProviders, rankCandidates, type Candidate } from '../../node/user/scheduler.js'
import { VerdictResult, type Outcome } from '../../protocols/popw/popw.js'
import { keyOf } from '../../protocols/popw/verdict.js'
import type { PeerId } from '@libp2p/interface'

const peers = await Promise.all([0, 1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
const [a, b, c, d] = peers as [PeerId, PeerId, PeerId, PeerId]
const outcome = (epoch: number, peer: PeerId, result: VerdictResult): Outcome => ({ epoch: BigInt(epoch), provider: keyOf(peer), result, assigned: [], verdicts: [] })

function candidate (peer: PeerId, price: bigint, extra: { score?: number, rttMs?: number, available?: boolean } = {}): Candidate {
  return {
    quote: { provider: peer.toString(), wallet: `w-${peer.toString().slice(-4)}`, pricePerHour: price.toString(), symbol: 'KSR', decimals: 12, available: extra.available ?? true, free: { cpus: 2, memoryBytes: 2 ** 30, gpus: 0 } },
    rttMs: extra.rttMs ?? 5,
    score: extra.score ?? 0.5,
    addresses: []
  }
}

test('before any settled epoch every provider may be asked (a network without checkers)', () => {
  const found = peers.map(p => ({ peerId: p.toString() }))
  const { ok, rejected } = checkedProviders(found, new ProviderScores(), 0)
  assert.is(ok.length, 4)
  assert.equal(rejected, [])
})

test('once epochs settle: only providers whose latest outcome passed; new and failing ones are rejected with why', () => {
  const scores = new ProviderScores()
  scores.apply(10, [outcome(10, a, VerdictResult.PASS), outcome(10, b, VerdictResult.PASS), outcome(10, c, VerdictResult.FAIL)])
  scores.apply(11, [outcome(11, a, VerdictResult.PASS), outcome(11, b, VerdictResult.FAIL), outcome(11, c, VerdictResult.PASS)])
  const found = peers.map(p => ({ peerId: p.toString() }))
  const { ok, rejected } = checkedProviders(found, scores, 2)
  assert.equal(ok.map(p => p.peerId), [a.toString(), c.toString()], 'a passed twice; c failed then passed')
  assert.equal(rejected.map(r => r.provider), [b.toString(), d.toString()])
  assert.match(rejected[0]?.why ?? '', /failed its latest check \(epoch 11\)/)
  assert.match(rejected[1]?.why ?? '', /not yet passed a check/)
  assert.ok(scores.score(a.toString()) > scores.score(c.toString()), 'two passes score above a fail and a pass')
})

test('ranking: price first, unavailable and over-price quotes rejected, a bad score outweighs a small price gap', () => {
  const { ranked, rejected } = rankCandidates([
    candidate(a, 1000n),
    candidate(b, 900n),
    candidate(c, 500n, { available: false }),
    candidate(d, 5000n)
  ], 2000n)
  assert.equal(ranked.map(r => r.quote.provider), [b.toString(), a.toString()])
  assert.equal(ranked.map(r => r.rank), [1, 2])
  assert.equal(rejected.map(r => r.provider).sort(), [c.toString(), d.toString()].sort())
  assert.match(ranked[0]?.why ?? '', /price ×1\.00 of the cheapest, score 0\.50/)

  // 5 % cheaper but scored 0.1 by checkers: the well-scored provider wins.
  const scored = rankCandidates([candidate(a, 1000n, { score: 0.9 }), candidate(b, 950n, { score: 0.1 })]).ranked
  assert.is(scored[0]?.quote.provider, a.toString())
  // A neutral score does not move a clear price difference.
  assert.is(rankCandidates([candidate(a, 1000n), candidate(b, 500n)]).ranked[0]?.quote.provider, b.toString())
})

test.run()
