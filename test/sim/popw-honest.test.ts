// Issue 6, done-when 1: an honest devnet-like network (1 gateway, 4 providers, 5 checkers,
// k = 3) in one process: every provider passes every epoch, each epoch is settled by exactly
// one ledger transaction, every node that follows the epochs holds the same settled outcomes,
// and the rewards reach the checkers that earned them.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cluster } from '../../sim/cluster.js'
import { simulatedInventory } from '../../sim/hardware.js'
import { VerdictResult } from '../../protocols/popw/popw.js'
import { checkOutcome } from '../../protocols/popw/outcome.js'
import { TOPICS } from '../../protocols/ids.js'
import { hostChain, nextEpoch, testLogger, settlementTxs, simPopw, waitRegistered, waitSettled } from '../helpers/popw.js'
import { waitFor } from '../helpers/wait.js'
import type { KaisarNode } from '../../node/node.js'

let cluster: Cluster | undefined
test.after(async () => { await cluster?.stop() })

const EPOCH_MS = 3000
const EPOCHS = 3

test('honest network: every provider passes every epoch, one settlement each, checkers paid', async () => {
  const popw = simPopw(EPOCH_MS)
  cluster = await Cluster.start({
    heartbeatMs: 2000,
    logger: testLogger(),
    nodes: [
      { role: 'gateway', config: { popw } },
      ...[0, 1, 2, 3].map(() => ({ role: 'provider' as const, inventory: simulatedInventory([]), config: { popw } })),
      ...[0, 1, 2, 3, 4].map(() => ({ role: 'checker' as const, config: { popw } }))
    ]
  })
  await waitRegistered(cluster)
  const gateway = (cluster.nodes[0] as { node: KaisarNode }).node
  // Providers publish heartbeats without subscribing (node/roles/provider/heartbeat.ts): they stay
  // out of the topic's mesh (no O(N) forwarding per beat), and every beat still reaches the gateway.
  const providers = cluster.byRole('provider').map(p => p.node)
  for (const p of providers) assert.not.ok(p.libp2p.services.pubsub.getTopics().includes(TOPICS.heartbeat), 'a provider subscribed to heartbeats')
  assert.ok(gateway.libp2p.services.pubsub.getTopics().includes(TOPICS.heartbeat))
  // Nor do they follow the ledger's block announcements, which nothing on a provider reads
  // (node/ledger/node-ledger.ts); checkers do (their PoPW reconciles on new blocks).
  for (const p of providers) assert.not.ok(p.libp2p.services.pubsub.getTopics().includes(TOPICS.ledger), 'a provider follows block announcements')
  for (const c of cluster.byRole('checker')) assert.ok(c.node.libp2p.services.pubsub.getTopics().includes(TOPICS.ledger), 'a checker does not follow block announcements')
  await waitFor('every provider online in the gateway\'s table', () => providers.every(p => gateway.providerTable?.list().some(e => e.peerId === p.peerId && e.online) === true))
  const chain = hostChain(cluster)
  const checkers = cluster.byRole('checker').map(c => c.node)
  // Skip one epoch: the nodes warm up (connections, first DHT queries) in the first one.
  const first = nextEpoch(gateway) + 1
  const last = first + EPOCHS - 1
  const before = new Map<string, bigint>()
  await new Promise(resolve => setTimeout(resolve, Math.max(0, first * EPOCH_MS - Date.now())))
  for (const c of checkers) before.set(c.identity.wallet.address, (await chain.account(c.identity.wallet.address)).free)

  await waitSettled(gateway, last, (EPOCHS + 3) * EPOCH_MS)
  const earned = new Map<string, bigint>()
  for (let epoch = first; epoch <= last; epoch++) {
    const settlement = await chain.settlement(epoch)
    assert.ok(settlement != null, `epoch ${epoch} settled`)
    assert.is(settlement.outcomeCount, 4, `epoch ${epoch}: an outcome for each of the 4 providers`)
    assert.equal(await settlementTxs(chain, epoch), { applied: 1, refused: 0 }, `epoch ${epoch}: exactly one settlement transaction`)
    const settled = await gateway.popw?.store.get(epoch)
    assert.ok(settled != null)
    const why = settled.outcomes.map(o => o.verdicts.map(v => `${v.reasons.join('+') || 'ok'}(${v.challengeMs}/${v.deadlineMs})`).join('|')).join(' ')
    assert.is(settlement.penalties.length, 0, `epoch ${epoch}: ${why}`)
    assert.is(settlement.points.length, 0)
    assert.equal(settlement.dissenters ?? [], [], `epoch ${epoch}: ${why}`)

    assert.is(settled.root, settlement.outcomeRoot)
    const ctx = await gateway.popw?.registry.context(epoch)
    for (const o of settled.outcomes) {
      assert.is(o.result, VerdictResult.PASS, `epoch ${epoch}: ${o.verdicts.flatMap(v => v.reasons).join(',')}`)
      assert.equal(await checkOutcome(o, ctx as NonNullable<typeof ctx>), { ok: true, result: 'pass' })
      assert.ok(o.verdicts.length >= 2)
    }
    // Every checker holds the same settled outcomes.
    for (const c of checkers) {
      await waitSettled(c, epoch, 5000)
      assert.is((await c.popw?.store.get(epoch))?.root, settlement.outcomeRoot)
    }
    // Paid: the counted (assigned) checkers' agreeing verdicts; standing-by backups earn nothing.
    const agreeing = settled.outcomes.reduce((n, o) => n + o.verdicts.filter(v => o.assigned.some(a => Buffer.compare(a, v.checker) === 0)).length, 0)
    const paid = settlement.rewards.reduce((s, r) => s + r.amount, 0n)
    assert.is(paid, BigInt(agreeing) * 10n ** 11n, `reward = 0.1 token per agreeing counted verdict; epoch ${epoch}: ${why}`)
    for (const r of settlement.rewards) earned.set(r.to, (earned.get(r.to) ?? 0n) + r.amount)
  }
  // The rewards reached the checkers' wallets (settlements are transfers from the treasury).
  for (const c of checkers) {
    const address = c.identity.wallet.address
    const gained = (await chain.account(address)).free - (before.get(address) ?? 0n)
    assert.ok(gained >= (earned.get(address) ?? 0n), `checker ${address} got its rewards`)
  }
  assert.ok(earned.size >= 3, 'rewards went to at least the assigned checkers')
  // The scheduler's view: every provider scored and schedulable.
  for (const p of cluster.byRole('provider')) {
    const s = gateway.popw?.scores.get(p.node.peerId)
    assert.ok(s != null && s.schedulable && s.passes >= EPOCHS && s.score > 0.5, JSON.stringify(s))
  }
})

test.run()
