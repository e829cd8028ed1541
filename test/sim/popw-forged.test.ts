// Issue 6, done-when 4: forged verdicts on kaisar/popw/1 — a bad signature (on the envelope, or
// on a verdict inside a validly signed reveal), a checker without a licence, the wrong epoch, and
// replays (a second commitment in a checker's slot, a real reveal re-signed and sent again) — are
// rejected by the topic validator of every node that follows the epochs, counted by reason, and
// change nothing: the epoch's outcome is the honest one.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { NodeRole, openEnvelope, sealEnvelope } from '../../protocols/gossip/codec.js'
import { TOPICS } from '../../protocols/ids.js'
import { PopwMessage, VerdictResult, type Verdict } from '../../protocols/popw/popw.js'
import { keyOf, newSalt, signVerdict } from '../../protocols/popw/verdict.js'
import { Cluster, type ClusterNode } from '../../sim/cluster.js'
import { simulatedInventory } from '../../sim/hardware.js'
import { nextEpoch, simPopw, testLogger, waitRegistered, waitSettled } from '../helpers/popw.js'
import type { KaisarNode } from '../../node/node.js'
import type { PrivateKey } from '@libp2p/interface'

const EPOCH_MS = 3000
let cluster: Cluster | undefined
test.after(async () => { await cluster?.stop() })

const REASONS = ['bad-signature', 'bad-verdict-signature', 'ineligible-checker', 'wrong-epoch', 'replayed'] as const

async function rejected (node: KaisarNode, reason: string): Promise<number> {
  const metric = await node.metrics.registry.getSingleMetric('kaisar_gossip_rejected_total')?.get()
  return metric?.values.filter(v => v.labels.topic === TOPICS.popw && v.labels.reason === reason).reduce((s, v) => s + v.value, 0) ?? 0
}

async function seal (key: PrivateKey, msg: PopwMessage, timestamp = Date.now()): Promise<Uint8Array> {
  return await sealEnvelope(key, peerIdFromPrivateKey(key), TOPICS.popw, NodeRole.CHECKER, PopwMessage.encode(msg), timestamp)
}

async function sleepUntil (t: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, Math.max(0, t - Date.now())))
}

test('forged verdicts are rejected by the topic validator, counted by reason, and change nothing', async () => {
  const popw = simPopw(EPOCH_MS)
  cluster = await Cluster.start({
    heartbeatMs: 2000,
    logger: testLogger(),
    nodes: [
      { role: 'gateway', config: { popw } },
      { role: 'gateway', config: { popw } }, // the attacker's vantage point: publishes the forgeries
      { role: 'provider', inventory: simulatedInventory([]), config: { popw } },
      ...[0, 1, 2].map(() => ({ role: 'checker' as const, config: { popw } }))
    ]
  })
  await waitRegistered(cluster)
  const [observer, attacker] = cluster.byRole('gateway').map(g => g.node)
  const provider = cluster.byRole('provider')[0] as ClusterNode
  const checkers = cluster.byRole('checker')
  const pubsub = (attacker as KaisarNode).libp2p.services.pubsub
  const publish = async (bytes: Uint8Array): Promise<void> => { await pubsub.publish(TOPICS.popw, bytes) }

  // Capture real reveals as they go by, to replay one.
  const captured: Uint8Array[] = []
  pubsub.addEventListener('gossipsub:message', evt => { if (evt.detail.msg.topic === TOPICS.popw) captured.push(evt.detail.msg.data) })

  const epoch = nextEpoch(observer as KaisarNode) + 1
  const t = (observer as KaisarNode).popw?.schedule.times(epoch)
  assert.ok(t != null)
  const c0 = checkers[0] as ClusterNode
  const c1 = checkers[1] as ClusterNode
  const providerKey = keyOf(provider.node.libp2p.peerId)
  const verdict = async (key: PrivateKey, e: number): Promise<Verdict> => await signVerdict(key, {
    epoch: BigInt(e), provider: providerKey, checker: keyOf(peerIdFromPrivateKey(key)), result: VerdictResult.FAIL, reasons: ['forged'],
    rttMs: 1, bandwidthMbps: 1, challengeN: 32, challengeMs: 1, deadlineMs: 1, claimedClass: 'cpu', leasesChecked: 0, leasesOk: 0
  })
  const commitOf = (e: number, part: number): PopwMessage => ({ commit: { epoch: BigInt(e), part, entries: [{ provider: providerKey, commitment: new Uint8Array(randomBytes(32)) }] } })

  // In the commit window, after the honest commitments are out.
  await sleepUntil(t.probeEnd + 300)
  const stranger = await generateKeyPair('Ed25519') // no licence on the ledger
  await publish(await seal(stranger, commitOf(epoch, 0)))
  await publish(await seal(c0.identity.privateKey, commitOf(epoch - 5, 0))) // an old epoch
  await publish(await seal(c0.identity.privateKey, commitOf(epoch, 0))) // a second commitment in c0's slot
  // An envelope whose signature does not match (a real checker's message, one bit flipped).
  const tampered = await seal(c1.identity.privateKey, commitOf(epoch, 5))
  tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1
  await publish(tampered)

  // In the reveal window, after the honest reveals.
  await sleepUntil(t.commitClose + 600)
  // A verdict not signed by the checker it names, inside c1's otherwise valid reveal.
  const forged = await verdict(c1.identity.privateKey, epoch)
  forged.signature = new Uint8Array(randomBytes(64))
  await publish(await seal(c1.identity.privateKey, { reveal: { epoch: BigInt(epoch), part: 9, entries: [{ verdict: forged, salt: newSalt() }] } }))
  // A real reveal, re-signed by its checker with a new timestamp and sent again.
  let replayed = false
  for (const data of captured) {
    const opened = await openEnvelope(TOPICS.popw, data)
    if (!opened.ok) continue
    const msg = PopwMessage.decode(opened.envelope.payload)
    if (msg.reveal == null || Number(msg.reveal.epoch) !== epoch) continue
    const owner = checkers.find(c => c.node.libp2p.peerId.equals(opened.signer))
    if (owner == null) continue
    await publish(await seal(owner.identity.privateKey, msg))
    replayed = true
    break
  }
  assert.ok(replayed, 'a real reveal was captured and replayed')

  await waitSettled(observer as KaisarNode, epoch, 4 * EPOCH_MS)
  // Every follower (the observing gateway and each checker) rejected and counted each kind.
  for (const node of [observer as KaisarNode, ...checkers.map(c => c.node)]) {
    for (const reason of REASONS) assert.ok(await rejected(node, reason) >= 1, `${node.peerId.slice(-6)} counted ${reason}`)
  }
  assert.ok(await rejected(observer as KaisarNode, 'replayed') >= 2, 'both replays counted')
  // Nothing forged reached the outcome: the provider passed on the honest checkers' verdicts.
  const settled = await (observer as KaisarNode).popw?.store.get(epoch)
  const outcome = settled?.outcomes[0]
  assert.is(outcome?.result, VerdictResult.PASS)
  assert.not.ok(outcome?.verdicts.some(v => v.reasons.includes('forged')))
})

test.run()
