// The simulator's partition (sim/partition.ts): the gate each node gets refuses peers of the
// other side only while split, in every direction libp2p asks about, and `split` cuts exactly
// the connections across. And the partition scenario's schedule: a real split (both sides have
// a gateway, checkers and providers; the ledger host and the users stay on side A), then a heal.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Partition, type PartitionedNode } from '../../sim/partition.js'
import { partitionReport, unreachablePair, type SplitLog } from '../../sim/partition-report.js'
import { buildSchedule } from '../../sim/scenarios/index.js'
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { SimEvent } from '../../sim/schedule.js'

async function peer (): Promise<PeerId> { return peerIdFromPrivateKey(await generateKeyPair('Ed25519')) }

const DENIALS = ['denyDialPeer', 'denyOutboundConnection', 'denyInboundEncryptedConnection', 'denyOutboundEncryptedConnection', 'denyInboundUpgradedConnection', 'denyOutboundUpgradedConnection'] as const

/** Every check libp2p makes about `remote`, as the gate answers it (the maConn argument is not looked at). */
async function verdicts (gater: ConnectionGater, remote: PeerId): Promise<boolean[]> {
  const conn = {} as unknown as Parameters<NonNullable<ConnectionGater['denyOutboundConnection']>>[1]
  return await Promise.all(DENIALS.map(async name => {
    const fn = gater[name] as ((peer: PeerId, c: typeof conn) => boolean | Promise<boolean>) | undefined
    if (fn == null) throw new Error(`the gate does not answer ${name}`)
    return await fn.call(gater, remote, conn)
  }))
}

test('the gate refuses the other side only while split, in every direction; unknown peers pass', async () => {
  const [a1, a2, b1, stranger] = await Promise.all([peer(), peer(), peer(), peer()])
  const p = new Partition(new Set(['b1']))
  p.bind('a1', a1.toString())
  p.bind('a2', a2.toString())
  p.bind('b1', b1.toString())
  const gateA = p.gater('a1')
  const gateB = p.gater('b1')
  assert.equal(await verdicts(gateA, b1), DENIALS.map(() => false), 'before the split everything passes')
  assert.not.ok(p.separates(a1.toString(), b1.toString()))
  p.split([])
  assert.ok(p.isSplit)
  assert.equal(await verdicts(gateA, b1), DENIALS.map(() => true), 'A refuses B')
  assert.equal(await verdicts(gateB, a1), DENIALS.map(() => true), 'B refuses A')
  assert.equal(await verdicts(gateA, a2), DENIALS.map(() => false), 'A keeps A')
  assert.equal(await verdicts(gateA, stranger), DENIALS.map(() => false), 'a peer outside the run passes')
  assert.ok(p.separates(a2.toString(), b1.toString()))
  assert.not.ok(p.separates(a1.toString(), stranger.toString()))
  p.heal()
  assert.equal(await verdicts(gateB, a1), DENIALS.map(() => false), 'healed: everything passes again')
})

test('split cuts exactly the connections across and counts them; crossConnections counts what is open', async () => {
  const [a1, a2, b1] = await Promise.all([peer(), peer(), peer()])
  const p = new Partition(new Set(['b1']))
  p.bind('a1', a1.toString())
  p.bind('a2', a2.toString())
  p.bind('b1', b1.toString())
  const aborted: string[] = []
  const node = (self: PeerId, remotes: PeerId[]): PartitionedNode & { open: PeerId[] } => {
    const n = {
      peerId: self,
      open: [...remotes],
      getConnections: () => n.open.map(remote => ({ remotePeer: remote, abort: (err: Error) => { aborted.push(`${self.toString()}>${remote.toString()}:${err.message}`); n.open = n.open.filter(r => !r.equals(remote)) } }))
    }
    return n
  }
  const nodes = [node(a1, [a2, b1]), node(a2, [a1, b1]), node(b1, [a1, a2])]
  assert.is(p.crossConnections(nodes), 4, 'each end of the two A–B links')
  assert.is(p.split(nodes), 4)
  assert.equal(aborted.sort(), [`${a1.toString()}>${b1.toString()}:network partition`, `${a2.toString()}>${b1.toString()}:network partition`, `${b1.toString()}>${a1.toString()}:network partition`, `${b1.toString()}>${a2.toString()}:network partition`].sort())
  assert.is(p.crossConnections(nodes), 0)
  assert.is(nodes[0]?.open.length, 1, 'A–A stays')
})

test('the partition scenario splits along regions, keeps the ledger host and users on side A, and heals', () => {
  for (const seed of [1, 2, 3]) {
    const s = buildSchedule({ scenario: 'partition', nodes: 16, seed, durationMs: 20_000, baseEpochMs: 5000, baseHeartbeatMs: 2000, dilation: 1 })
    const cut = s.events.find((e): e is Extract<SimEvent, { kind: 'partition' }> => e.kind === 'partition')
    const heal = s.events.find(e => e.kind === 'heal')
    assert.ok(cut != null && heal != null, `seed ${seed}: a split and a heal`)
    assert.ok(cut.at >= 0.2 * s.durationMs && cut.at <= 0.25 * s.durationMs && heal.at >= 0.55 * s.durationMs && heal.at <= 0.6 * s.durationMs, `seed ${seed}: ${cut.at}..${heal.at}`)
    assert.ok(cut.at <= s.epochMs && heal.at >= 2 * s.epochMs, `seed ${seed}: a whole epoch inside the split`)
    const group = new Set(cut.group)
    const host = s.nodes[0]
    assert.is(host?.role, 'gateway')
    assert.not.ok(group.has(host?.id ?? ''), 'the ledger host stays on side A')
    assert.ok(cut.group.every(id => !id.startsWith('user-')), 'users stay on side A')
    const sideB = s.nodes.filter(n => group.has(n.id))
    const sideA = s.nodes.filter(n => !group.has(n.id))
    for (const role of ['gateway', 'checker', 'provider'] as const) {
      assert.ok(sideA.some(n => n.role === role) && sideB.some(n => n.role === role), `seed ${seed}: both sides have a ${role}`)
    }
    const providers = s.nodes.filter(n => n.role === 'provider')
    const share = sideB.filter(n => n.role === 'provider').length / providers.length
    assert.ok(share >= 0.25 && share <= 0.5, `seed ${seed}: side B has ${share} of the providers`)
    // Along regions: a region's providers are all on one side.
    const regionsB = new Set(sideB.filter(n => n.role === 'provider').map(n => n.region))
    assert.ok(providers.every(n => group.has(n.id) === regionsB.has(n.region)), `seed ${seed}: the split follows regions`)
    assert.ok(s.events.filter(e => e.kind === 'order' && e.at > cut.at && e.at < heal.at).length >= 6, 'orders while split')
  }
})

test('the report: delivery per side and across while split, time until every subscriber heard the other side, judged orders and epochs', () => {
  const t0 = 1_000_000
  const log: SplitLog = {
    splitAt: t0 + 4000,
    healAt: t0 + 11_000,
    connectionsCut: 10,
    crossConnectionsSeen: 0,
    orders: [
      { order: 'o1', region: 'DE', ok: true, userSide: 'a', servable: true, endedWhileSplit: true, servedBy: 'a' },
      { order: 'o2', region: 'SG', ok: false, userSide: 'a', servable: false, endedWhileSplit: true, error: 'no provider' },
      { order: 'o3', region: 'SG', ok: true, userSide: 'a', servable: false, endedWhileSplit: false, servedBy: 'b' }
    ],
    dhtSameSide: [],
    dhtAcross: []
  }
  const side = (peer: string): 'a' | 'b' => peer.startsWith('A') ? 'a' : 'b'
  const pairs = [
    { publisher: 'A1', subscriber: 'A2', at: t0 + 5000, ms: 5 }, // same side A, delivered
    { publisher: 'B1', subscriber: 'B2', at: t0 + 5000, ms: 7 }, // same side B, delivered
    { publisher: 'B1', subscriber: 'B2', at: t0 + 7000 }, // same side B, lost
    { publisher: 'A1', subscriber: 'B2', at: t0 + 5000 }, // across while split: lost, as it must be
    { publisher: 'A1', subscriber: 'B2', at: t0 + 11_500, ms: 300 }, // B2 hears A 800 ms after the heal
    { publisher: 'B1', subscriber: 'A2', at: t0 + 12_000, ms: 1000 }, // A2 hears B 2000 ms after the heal
    { publisher: 'B1', subscriber: 'A2', at: t0 + 14_000, ms: 4 }, // after everyone heard across: counted
    { publisher: 'A1', subscriber: 'B2', at: t0 + 15_000 } // after everyone heard across: lost
  ]
  const r = partitionReport({
    log,
    t0,
    sideOfPeer: side,
    sideOfName: name => name.startsWith('b') ? 'b' : 'a',
    members: [{ name: 'gateway-0', role: 'gateway' }, { name: 'b-gateway', role: 'gateway' }, { name: 'p1', role: 'provider' }, { name: 'user-0', role: 'user' }],
    pairs,
    graceMs: 2000,
    allowanceMs: 10_000,
    epochs: [0, 1, 2, 3].map(i => ({ epoch: 200 + i, start: t0 + i * 5000, end: t0 + (i + 1) * 5000 })),
    providers: [
      { id: 'p1', honest: true, passedIn: [0, 1, 2, 3], failedIn: [], reasons: [] },
      { id: 'b-p2', honest: true, passedIn: [0, 3], failedIn: [1, 2], reasons: ['1:unreachable', '2:unreachable'] },
      { id: 'b-p3', honest: false, passedIn: [], failedIn: [1], reasons: ['1:challenge-deadline'] }
    ]
  })
  assert.ok(r != null)
  assert.is(r.splitAtMs, 4000)
  assert.is(r.healAtMs, 11_000)
  assert.equal(r.sides, { a: { gateways: 1, checkers: 0, providers: 1, users: 1 }, b: { gateways: 1, checkers: 0, providers: 0, users: 0 } })
  assert.equal(r.gossip.sameSide.a, { expected: 1, delivered: 1, ratio: 1 })
  assert.equal(r.gossip.sameSide.b, { expected: 2, delivered: 1, ratio: 0.5 })
  assert.equal(r.gossip.acrossSplit, { expected: 1, delivered: 0, ratio: 0 })
  assert.is(r.gossip.healFirstMs, 800)
  assert.is(r.gossip.healAllMs, 2000)
  assert.is(r.gossip.unreached, 0)
  assert.equal(r.gossip.afterHeal, { expected: 2, delivered: 1, ratio: 0.5 })
  assert.equal({ ...r.orders, failures: r.orders.failures.length }, { total: 3, straddled: 1, ok: 1, servable: 1, servableOk: 1, servedOnOtherSide: 0, unservable: 1, unservableOk: 0, failures: 1 })
  assert.equal(r.outcomes.epochs, [0, 1, 2], 'epochs overlapping [4 s, 11 s)')
  assert.is(r.outcomes.honestFailedBySplit, 1, 'a cheater failing is not the split\'s doing')
  assert.equal(r.outcomes.failedBySplit, [{ id: 'b-p2', side: 'b', epochs: [1, 2], reasons: ['1:unreachable', '2:unreachable'] }])
  // The headline leaves out pairs across from a grace before the split until everyone heard across again, and only those.
  const kept = pairs.filter(p => !unreachablePair(p, r, t0, side, 2000))
  assert.equal(kept.map(p => pairs.indexOf(p)), [0, 1, 2, 6, 7])
})

test.run()
