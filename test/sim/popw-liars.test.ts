// Issue 6, done-when 3: lying checkers. Among five checkers, one always says pass, one always
// says fail, one reveals verdicts it never committed to; at most one liar counts per outcome
// (they lie in opposite directions). The outcomes are what the two honest checkers measured;
// the liars earn nothing, are struck as dissenters and lose their eligibility after three epochs;
// the reveals without commitments are ignored (counted) and never make it into an outcome.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { alwaysFail, alwaysPass, revealWithoutCommit, slowResponder } from '../../sim/cheats.js'
import { Cluster } from '../../sim/cluster.js'
import { simulatedInventory } from '../../sim/hardware.js'
import { VerdictResult } from '../../protocols/popw/popw.js'
import { keyOf } from '../../protocols/popw/verdict.js'
import { hostChain, nextEpoch, simPopw, testLogger, waitRegistered, waitSettled } from '../helpers/popw.js'
import type { KaisarNode } from '../../node/node.js'

const EPOCH_MS = 3000
let cluster: Cluster | undefined
test.after(async () => { await cluster?.stop() })

const counter = async (node: KaisarNode, name: 'kaisar_gossip_ignored_total' | 'kaisar_gossip_rejected_total', reason: string): Promise<number> => {
  const metric = await node.metrics.registry.getSingleMetric(name)?.get()
  return metric?.values.filter(v => v.labels.topic === 'kaisar/popw/1' && v.labels.reason === reason).reduce((s, v) => s + v.value, 0) ?? 0
}

test('liars change no outcome, earn nothing and lose eligibility; reveals without commitments do not count', async () => {
  // Every checker is a candidate for every provider (k = 3 + 2 backups = 5 checkers).
  const popw = simPopw(EPOCH_MS, { backups: 2 })
  const cpu = simulatedInventory([])
  cluster = await Cluster.start({
    heartbeatMs: 2000,
    logger: testLogger(),
    nodes: [
      { role: 'gateway', config: { popw } },
      { role: 'provider', inventory: cpu, config: { popw } }, // honest
      { role: 'provider', inventory: cpu, config: { popw }, popwHooks: { responder: slowResponder(2_000) } }, // fails
      { role: 'checker', config: { popw } },
      { role: 'checker', config: { popw } },
      { role: 'checker', config: { popw }, popwHooks: { checker: alwaysPass } },
      { role: 'checker', config: { popw }, popwHooks: { checker: alwaysFail } },
      { role: 'checker', config: { popw }, popwHooks: { checker: revealWithoutCommit } }
    ]
  })
  await waitRegistered(cluster)
  const gateway = (cluster.nodes[0] as { node: KaisarNode }).node
  const chain = hostChain(cluster)
  const [honestProvider, failingProvider] = cluster.byRole('provider').map(p => p.node as KaisarNode)
  const [h0, h1, passLiar, failLiar, uncommitted] = cluster.byRole('checker').map(c => c.node as KaisarNode)
  const key = (n: KaisarNode): string => Buffer.from(keyOf(n.libp2p.peerId)).toString('hex')
  const liars = new Set([key(passLiar as KaisarNode), key(failLiar as KaisarNode)])

  const first = nextEpoch(gateway) + 1
  await new Promise(resolve => setTimeout(resolve, Math.max(0, first * EPOCH_MS - Date.now())))
  const balance = async (n: KaisarNode): Promise<bigint> => (await chain.account(n.identity.wallet.address)).free
  // The balances and the chain height they belong to, read without a block in between: a warm-up
  // epoch (before `first`) can settle just after this, and what it pays is not this test's to judge.
  const readBalances = async (): Promise<Map<string, bigint>> => new Map(await Promise.all([h0, h1, passLiar, failLiar, uncommitted].map(async n => [(n as KaisarNode).peerId, await balance(n as KaisarNode)] as const)))
  let heightBefore = (await chain.head()).height
  let before = await readBalances()
  while ((await chain.head()).height !== heightBefore) { heightBefore = (await chain.head()).height; before = await readBalances() }
  const lateWarmupRewards = async (address: string): Promise<bigint> => {
    let sum = 0n
    for (let epoch = first - 3; epoch < first; epoch++) {
      const s = await chain.settlement(epoch)
      if (s != null && s.height > heightBefore) for (const r of s.rewards) if (r.to === address) sum += r.amount
    }
    return sum
  }
  const last = first + 3
  await waitSettled(gateway, last, (last - first + 4) * EPOCH_MS)

  let liarVerdictsCounted = 0
  for (let epoch = first; epoch <= last; epoch++) {
    const settled = await gateway.popw?.store.get(epoch)
    assert.ok(settled != null, `epoch ${epoch} settled`)
    assert.is(settled.outcomes.length, 2, `epoch ${epoch}: both providers have an outcome`)
    for (const o of settled.outcomes) {
      const expected = Buffer.compare(o.provider, keyOf((honestProvider as KaisarNode).libp2p.peerId)) === 0 ? VerdictResult.PASS : VerdictResult.FAIL
      assert.is(o.result, expected, `epoch ${epoch}: the outcome is what the honest checkers measured: ${o.verdicts.map(v => `${v.result}:${v.reasons.join('+')}(${v.challengeMs}/${v.deadlineMs})`).join(' ')}`)
      // The checker that never committed is never counted (a backup stands in for it).
      assert.not.ok(o.assigned.some(a => Buffer.from(a).toString('hex') === key(uncommitted as KaisarNode)), 'an uncommitted checker is not assigned')
      const wrong = o.verdicts.filter(v => v.result !== expected)
      assert.ok(wrong.length <= 1, `at most one wrong verdict per outcome: ${o.verdicts.map(v => `${v.result}:${v.reasons.join('+')}(${v.challengeMs}/${v.deadlineMs})`).join(' ')}`)
      for (const v of wrong) assert.ok(liars.has(Buffer.from(v.checker).toString('hex')), 'only liars are wrong')
      liarVerdictsCounted += o.verdicts.filter(v => liars.has(Buffer.from(v.checker).toString('hex'))).length
    }
    const settlement = await chain.settlement(epoch)
    for (const r of settlement?.rewards ?? []) {
      assert.not.ok([passLiar, failLiar, uncommitted].some(n => (n as KaisarNode).identity.wallet.address === r.to), `epoch ${epoch}: a liar or the uncommitted checker was paid`)
    }
  }
  assert.ok(liarVerdictsCounted > 0, 'the liars took part in outcomes (and so were tested)')
  // The liars earned nothing; the honest checkers did.
  for (const n of [passLiar, failLiar, uncommitted] as KaisarNode[]) {
    const late = await lateWarmupRewards(n.identity.wallet.address)
    assert.is(await balance(n), (before.get(n.peerId) as bigint) + late, `${n.peerId} earned nothing in epochs ${first}..${last} (${late} from warm-up epochs settled after the start)`)
  }
  for (const n of [h0, h1] as KaisarNode[]) assert.ok(await balance(n) > (before.get(n.peerId) ?? 0n), `${n.peerId} was rewarded`)
  // Repeated dissent: three strikes and the licence stops counting.
  for (const n of [passLiar, failLiar] as KaisarNode[]) {
    const licence = await chain.checker(n.identity.wallet.address)
    assert.is(licence?.eligible, false, `${n.peerId} lost its eligibility (strikes ${JSON.stringify(licence?.dissentEpochs)})`)
  }
  assert.is((await chain.checker((h0 as KaisarNode).identity.wallet.address))?.eligible, true)
  // Reveals without commitments were ignored by the validators, and counted.
  assert.ok(await counter(gateway, 'kaisar_gossip_ignored_total', 'no-commit') > 0, 'no-commit ignored and counted at the gateway')
})

test.run()
