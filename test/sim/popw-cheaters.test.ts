// Issue 6, done-when 2: cheating providers. One claims a GPU class it lacks (its record says
// H100: the challenge is sized for one, the CPU misses the deadline), one answers too slowly,
// one replays an earlier answer, one goes offline while a user's lease runs on it. Each gets a
// failing outcome within 2 epochs and loses stake; the user of the offline lease receives
// points; the honest providers never fail (and are judged in all epochs but one at most).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { FastEd25519Signer } from '../../node/identity/signer.js'
import { VerdictResult } from '../../protocols/popw/popw.js'
import { keyToString } from '../../protocols/popw/verdict.js'
import { replayResponder, slowResponder } from '../../sim/cheats.js'
import { Cluster, type ClusterNodeSpec } from '../../sim/cluster.js'
import { SIM_GPUS, simulatedInventory } from '../../sim/hardware.js'
import { MemoryRuntime } from '../../sim/runtime.js'
import { rentLease } from '../helpers/lease.js'
import { settledScores } from '../../node/user/settled-scores.js'
import { hostChain, nextEpoch, testLogger, simPopw, waitRegistered, waitSettled } from '../helpers/popw.js'
import type { KaisarNode } from '../../node/node.js'
import type { Outcome } from '../../protocols/popw/popw.js'

// 5 s, not 3: with 3 s epochs a commit has 750 ms after the probe window to arrive; on a loaded CI
// machine (12 nodes in one event loop) commits came late and whole outcomes went missing.
const EPOCH_MS = Number(process.env.EPOCH_MS ?? 5000)
let cluster: Cluster | undefined
const runtime = new MemoryRuntime()
test.after(async () => { await cluster?.stop(); await runtime.removeAll() })

test('cheaters fail within 2 epochs and lose stake; the offline lease\'s user gets points; honest providers pass', async () => {
  const popw = simPopw(EPOCH_MS, process.env.BW === '0' ? { bandwidthBytes: 0 } : {})
  const cpu = simulatedInventory([])
  const provider = (extra: Partial<ClusterNodeSpec> = {}): ClusterNodeSpec => ({ role: 'provider', inventory: cpu, config: { popw }, ...extra })
  cluster = await Cluster.start({
    heartbeatMs: 2000,
    logger: testLogger(),
    nodes: [
      { role: 'gateway', config: { popw } },
      provider(), // honest-0
      provider(), // honest-1
      provider({ inventory: simulatedInventory([SIM_GPUS.h100]) }), // claims an H100 it does not have
      provider({ popwHooks: { responder: slowResponder(2_000) } }), // answers after every deadline
      provider({ popwHooks: { responder: replayResponder() } }), // sends its first answer forever
      provider({ runtime }), // goes offline during a lease
      ...[0, 1, 2, 3, 4].map(() => ({ role: 'checker' as const, config: { popw } }))
    ]
  })
  const [honest0, honest1, claimer, slow, replayer, leaser] = cluster.byRole('provider').map(p => p.node)
  const names = new Map([[honest0, 'honest-0'], [honest1, 'honest-1'], [claimer, 'claims-h100'], [slow, 'slow'], [replayer, 'replays'], [leaser, 'offline-lease']].map(([n, name]) => [(n as KaisarNode).peerId, name as string]))
  await waitRegistered(cluster)
  const gateway = (cluster.nodes[0] as { node: KaisarNode }).node
  const chain = hostChain(cluster)

  // A user rents from the provider that will go offline.
  const user = FastEd25519Signer.random()
  const deployed = await rentLease({ user: gateway.libp2p, ledger: chain, wallet: user, provider: (leaser as KaisarNode).libp2p.peerId, leaseId: 'sim-lease-1' })
  assert.ok(deployed.token.length > 0)
  await waitFor(async () => (await chain.escrow('sim-lease-1'))?.status === 'running')

  const first = nextEpoch(gateway) + 1 // one epoch of warm-up
  await sleepUntil(first * EPOCH_MS)
  // The leaser runs the lease through `first`, then drops off during `first + 1`.
  const offlineEpoch = first + 1
  await sleepUntil(offlineEpoch * EPOCH_MS + 200)
  await (leaser as KaisarNode).stop()

  const last = offlineEpoch + 1 // "within 2 epochs" of going offline
  await waitSettled(gateway, last, (last - first + 4) * EPOCH_MS)
  const results = new Map<string, string[]>()
  for (let epoch = first; epoch <= last; epoch++) {
    const settled = await gateway.popw?.store.get(epoch)
    assert.ok(settled != null, `epoch ${epoch} settled`)
    for (const o of settled.outcomes) {
      const name = names.get(keyToString(o.provider)) ?? '?'
      results.set(name, [...(results.get(name) ?? []), `${epoch - first}:${o.result === VerdictResult.PASS ? 'pass' : 'fail'}(${reasons(o)})`])
    }
  }
  const summary = JSON.stringify(Object.fromEntries(results))
  const fails = (name: string, from: number, to: number): boolean => (results.get(name) ?? []).some(r => { const e = Number(r.split(':')[0]); return e >= from && e <= to && r.includes(':fail') })
  for (const name of ['claims-h100', 'slow', 'replays']) assert.ok(fails(name, 0, 1), `${name} fails within 2 epochs: ${summary}`)
  assert.ok(fails('offline-lease', 1, 2), `offline-lease fails within 2 epochs of going offline: ${summary}`)
  // Honest providers never fail. One epoch of the three may leave one without an outcome: when a
  // stall of this process (12 nodes share it; CI saw one as the offline provider was stopped)
  // makes the checkers' probes of it time out, they abstain rather than fail it
  // (node/roles/checker/prober.ts, `stallExcuses`), and with too few verdicts there is no outcome.
  for (const name of ['honest-0', 'honest-1']) {
    const seen = results.get(name) ?? []
    assert.ok(seen.every(r => r.includes(':pass')), `${name} never fails: ${summary}`)
    assert.ok(seen.length >= last - first, `${name} has a passing outcome in all epochs but one at most: ${summary}`)
  }
  // Failing outcomes cost stake (1 token each, in the epoch's settlement); honest providers pay nothing.
  const penalised = new Map<string, bigint>()
  for (let epoch = first; epoch <= last; epoch++) {
    for (const p of (await chain.settlement(epoch))?.penalties ?? []) penalised.set(p.provider, (penalised.get(p.provider) ?? 0n) + p.amount)
  }
  for (const n of [claimer, slow, replayer, leaser] as KaisarNode[]) {
    assert.ok((penalised.get(n.identity.wallet.address) ?? 0n) > 0n, `${names.get(n.peerId) ?? ''} was penalised`)
    assert.ok(((await chain.provider(n.identity.wallet.address))?.stake ?? 0n) < 100n * 10n ** 12n, `${names.get(n.peerId) ?? ''} lost stake on the ledger`)
  }
  for (const n of [honest0, honest1] as KaisarNode[]) assert.not.ok(penalised.has(n.identity.wallet.address), `${names.get(n.peerId) ?? ''} was not penalised`)
  // The lease's user got points for the failed epoch(s) its lease time fell in.
  const points = (await chain.account(user.address)).points
  assert.ok(points > 0n, `the offline lease's user received points (${points})`)

  // A user's scheduler (issue 5 + 6): the gateway's settled outcomes, checked against the
  // ledger's roots, leave the honest providers schedulable and every cheater out.
  const asker = { libp2p: (honest0 as KaisarNode).libp2p, ledger: chain, logger: testLogger() }
  const checks = await settledScores(asker, [gateway.peerId])
  assert.ok(checks.epochs.length >= last - first + 1 && checks.rejected.length === 0, `settled epochs verified: ${JSON.stringify(checks)}`)
  for (const n of [honest0, honest1] as KaisarNode[]) assert.ok(checks.scores.get(n.peerId).schedulable, `${names.get(n.peerId) ?? ''} schedulable`)
  for (const n of [claimer, slow, replayer, leaser] as KaisarNode[]) {
    assert.not.ok(checks.scores.get(n.peerId).schedulable, `${names.get(n.peerId) ?? ''} not schedulable`)
    assert.ok(checks.scores.score(n.peerId) < checks.scores.score((honest0 as KaisarNode).peerId), `${names.get(n.peerId) ?? ''} scores below the honest`)
  }
  // Outcomes that do not hash to the ledger's root are not used.
  const forged = Object.create(chain) as typeof chain
  forged.settlement = async (epoch: number) => { const s = await chain.settlement(epoch); return s == null ? s : { ...s, outcomeRoot: `0x${'00'.repeat(32)}` } }
  const lied = await settledScores({ ...asker, ledger: forged }, [gateway.peerId])
  assert.equal(lied.epochs, [])
  assert.ok(lied.rejected.length >= last - first + 1)
  assert.not.ok(lied.scores.get((honest0 as KaisarNode).peerId).schedulable, 'nothing learned from outcomes that do not match the ledger')
})

function reasons (o: Outcome): string {
  return [...new Set(o.verdicts.flatMap(v => v.reasons))].join('+')
}

async function sleepUntil (t: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, Math.max(0, t - Date.now())))
}

async function waitFor (probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

test.run()
