// The simulator's partition (sim/partition.ts): the gate each node gets refuses peers of the
// other side only while split, in every direction libp2p asks about, and `split` cuts exactly
// the connections across. And the partition scenario's schedule: a real split (both sides have
// a gateway, checkers and providers; the ledger host and the users stay on side A), then a heal.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Partition, type PartitionedNode } from '../../sim/partition.js'
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

test.run()
