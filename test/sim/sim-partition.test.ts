// Issue 7, the partition scenario at small scale: two regions (a gateway, ≈ 35 % of the checkers,
// their providers) are cut off from the ledger host's side for about a third of the run, then
// the network heals. The test fails if the split did not happen (a connection or a heartbeat
// across it), if either side stopped working on its own, if the heal did not bring gossip back
// across, or if orders during the split went anywhere but to the user's side.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MASS_UNREACHABLE_MIN, MASS_UNREACHABLE_SHARE } from '../../node/popw/settlement.js'
import { runSim } from '../../sim/runner.js'
import { testLogger } from '../helpers/popw.js'

test('partition: no link or heartbeat crosses the split, each side works on its own, orders stay on their side, gossip crosses again after the heal', async () => {
  const r = await runSim({ scenario: 'partition', nodes: 16, seed: 3, durationMs: 20_000, dilation: 1, baseEpochMs: 5000, baseHeartbeatMs: 2000, logger: testLogger() })
  const p = r.partition
  assert.ok(p != null, 'a partition section')
  assert.is(r.played.partition, 1)
  assert.is(r.played.heal, 1)
  const detail = JSON.stringify(p.gossip)

  // The split happened: both sides populated, links cut, none across while split, no heartbeat across.
  for (const side of ['a', 'b'] as const) {
    assert.ok(p.sides[side].gateways >= 1 && p.sides[side].checkers >= 1 && p.sides[side].providers >= 1, `side ${side}: ${JSON.stringify(p.sides[side])}`)
  }
  assert.ok(p.sides.a.users >= 1 && p.sides.b.users === 0, 'users on the ledger host\'s side')
  assert.ok(p.connectionsCut > 0, 'links across were cut at the split')
  assert.is(p.crossConnectionsWhileSplit, 0, 'no connection across while split')
  assert.ok(p.gossip.acrossSplit.expected > 0, detail)
  assert.is(p.gossip.acrossSplit.delivered, 0, `heartbeats across the split: ${detail}`)

  // Each side on its own: its heartbeats still reach its own gateways and checkers.
  for (const side of ['a', 'b'] as const) {
    const d = p.gossip.sameSide[side]
    assert.ok(d.expected > 0 && d.delivered / d.expected >= 0.99, `side ${side} gossip while split: ${JSON.stringify(d)}`)
  }

  // The heal: every gateway and checker hears the other side again, within the allowance, and
  // from then on heartbeats cross as they did before the split.
  assert.is(p.gossip.unreached, 0, detail)
  assert.ok(p.gossip.healAllMs != null && p.gossip.healAllMs <= p.gossip.allowanceMs, `heal: ${detail}`)
  assert.ok(p.gossip.afterHeal.expected > 0 && p.gossip.afterHeal.delivered / p.gossip.afterHeal.expected >= 0.99, `after the heal: ${JSON.stringify(p.gossip.afterHeal)}`)
  assert.ok(r.gossip.ratio >= 0.99, `gossip wherever it could cross: ${r.gossip.delivered}/${r.gossip.expected}`)

  // Orders while split (all from side A's users): every one a side-A provider could serve was
  // deployed, on side A; every one for a region only side B serves failed.
  assert.ok(p.orders.servable >= 3, `orders while split: ${JSON.stringify(p.orders)}`)
  assert.is(p.orders.servableOk, p.orders.servable, p.orders.failures.join('; '))
  assert.is(p.orders.servedOnOtherSide, 0)
  assert.is(p.orders.unservableOk, 0)

  // Outcomes. Side A's providers never fail because of the split.
  const sideB = new Set(p.outcomes.failedBySplit.filter(f => f.side === 'b').map(f => f.id))
  const honestFailed = r.outcomes.providers.filter(v => v.judged === 'failed')
  assert.is(p.outcomes.failedBySplit.filter(f => f.side === 'a').length, 0, JSON.stringify(p.outcomes.failedBySplit))
  assert.ok(p.outcomes.bySide.a.outcomes > 0, 'side A\'s providers were judged during the split')
  // Side A's checkers cannot reach side B and fail its providers as `unreachable` in the epochs
  // the split meets: no checker can tell a split from providers going offline. What must hold:
  // every honest failure is a side-B provider's, as unreachable, in an epoch that overlaps the
  // split (none after it), and the settlement's mass-unreachability rule (node/popw/settlement.ts)
  // takes no stake for it.
  for (const v of honestFailed) {
    assert.ok(sideB.has(v.id), `${v.id} failed outside the split's reach: ${JSON.stringify(v)}`)
    assert.ok(v.failedIn.every(e => p.outcomes.epochs.includes(e)), `${v.id} failed after the split: ${JSON.stringify(v)}`)
  }
  // Per split epoch: providers failed for nothing but `unreachable` (spared, when there are
  // enough of them) and those failed for other reasons too (a link cut in the middle of a probe
  // shows up as a missed challenge deadline: penalised like any other failure).
  let massEpochs = 0
  for (const i of p.outcomes.epochs) {
    const row = r.outcomes.epochs[i]
    if (row == null || !row.settled) continue
    const reasonsIn = p.outcomes.failedBySplit.filter(f => f.epochs.includes(i)).map(f => f.reasons.filter(x => x.startsWith(`${i}:`)).map(x => x.slice(`${i}:`.length)))
    const unreachable = reasonsIn.filter(rs => rs.length > 0 && rs.every(x => x === 'unreachable')).length
    if (unreachable < MASS_UNREACHABLE_MIN || unreachable <= MASS_UNREACHABLE_SHARE * row.outcomes) continue
    massEpochs++
    assert.is(row.penalties, reasonsIn.length - unreachable, `epoch ${row.epoch}: no stake taken for the ${unreachable} providers the split made unreachable: ${JSON.stringify(row)} ${JSON.stringify(reasonsIn)}`)
  }
  assert.ok(massEpochs >= 1, `the split cut off enough providers to count as mass unreachability: ${JSON.stringify(r.outcomes.epochs)} ${JSON.stringify(p.outcomes.failedBySplit)}`)
  assert.ok(r.outcomes.epochs.filter(e => e.settled).length >= 3, `epochs settled: ${JSON.stringify(r.outcomes.epochs)}`)
})

test.run()
