// How a checker reaches a provider (node/roles/checker/prober.ts): one it has never met at the
// addresses the provider's heartbeat gave (node/services/provider-table.ts `addressesOf`, `open`),
// without a DHT walk, and by libp2p's dial by id when no heartbeat was heard; a step that failed
// is tried once more after a pause (`twice`), a lease's tunnel too, and a second try cut short by the
// window leaves the failure standing, while a window that closes on a challenge under way is the
// checker's limit. And the heartbeat topic refuses addresses that are not multiaddrs, or too many.
import { NodeRole } from '../../protocols/gossip/codec.js'
import { Heartbeat } from '../../protocols/gossip/heartbeat.js'
import { PROTOCOLS, RECORD_NAMESPACES } from '../../protocols/ids.js'
import { sealRecord } from '../../protocols/records/codec.js'
import { ProviderRecord } from '../../protocols/records/provider-record.js'
import { encodeInventory } from '../../node/hardware/schema.js'
import { simulatedInventory } from '../../sim/hardware.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { streamPair } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { Registry } from 'prom-client'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { JsonFrames } from '../../node/network/json-frames.js'
import { HEARTBEAT_MAX_ADDRESSES, heartbeatTopic } from '../../node/network/gossip/topics.js'
import { NodeMetrics } from '../../node/metrics/registry.js'
import { PopwMetrics } from '../../node/popw/metrics.js'
import { LAG_ABSTAIN_MS, Prober, type ProbeReport } from '../../node/roles/checker/prober.js'
import { ProviderTable } from '../../node/services/provider-table.js'
import { honestResponder } from '../../node/roles/provider/challenge-service.js'
import { toHex } from '../../chain/merkle.js'
import { challengeRequestSchema, openRequestSchema } from '../../protocols/popw/messages.js'
import { tunnelHeaderSchema } from '../../protocols/lease/messages.js'
import { startTestNode } from '../helpers/network.js'
import type { LeaseEscrow, Ledger } from '../../chain/ledger.js'
import type { GossipService } from '../../node/network/gossip/service.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { SignedRecordStore } from '../../node/network/records/store.js'
import type { EpochContext } from '../../node/popw/registry.js'
import type { PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const beat = (addresses: Multiaddr[]): Heartbeat => ({
  uptimeS: 1n, intervalMs: 60_000, freeCpus: 1, freeMemoryBytes: 1n, freeGpus: 0, runningLeases: 0, recordVersion: 1n, sequence: 0n, addresses: addresses.map(ma => ma.bytes)
})

/** The provider's side of the challenge protocol: answers a ping, refuses anything else (the probe then stops at `no-record`). */
async function serveChallenges (provider: KaisarLibp2p): Promise<void> {
  await provider.handle(PROTOCOLS.challenge, async stream => {
    const frames = new JsonFrames(stream)
    const req = await frames.read(challengeRequestSchema)
    await frames.write(req.op === 'ping' ? { ok: true } : { ok: false, code: 'NO', message: 'not in this test' })
    await stream.close().catch(() => {})
  })
}

async function probe (checker: KaisarLibp2p, providerPeer: KaisarLibp2p['peerId'], table: ProviderTable): Promise<{ report: ProbeReport, dials: Record<string, number>, recordFetches: number }> {
  const metrics = new PopwMetrics(new Registry())
  let recordFetches = 0
  const records = { fetch: async () => { recordFetches++; return undefined } }
  const prober = new Prober({
    libp2p: checker, ledger: {} as unknown as Ledger, records: records as unknown as SignedRecordStore, metrics,
    heartbeatAddresses: peer => table.addressesOf(peer.toString())
  }, { challengeMs: 5, bandwidthBytes: 0, challengeAllowanceMs: 600 })
  const report = await prober.probe({ peerId: providerPeer.toString(), key: new Uint8Array(providerPeer.toMultihash().bytes), address: '5Provider' }, { epoch: 1, times: { probeEnd: Date.now() + 10_000 } } as unknown as EpochContext, AbortSignal.timeout(10_000))
  const dials = Object.fromEntries((await metrics.providerDials.get()).values.map(v => [String(v.labels.via), v.value]))
  return { report, dials, recordFetches }
}

/** A checker's provider table that has heard one heartbeat from `provider`. */
function heardFrom (provider: KaisarLibp2p): ProviderTable {
  const table = new ProviderTable({ gossip: {} as unknown as GossipService, metrics: new NodeMetrics() }, { missedBeforeOffline: 3 })
  // As the provider publishes them: its own listen addresses, without its id.
  const listen = provider.getMultiaddrs().map(ma => multiaddr(ma.toString().replace(`/p2p/${provider.peerId.toString()}`, '')))
  table.onHeartbeat({ topic: heartbeatTopic.topic, signer: provider.peerId, role: NodeRole.PROVIDER, timestamp: Date.now(), payload: Heartbeat.encode(beat(listen)), value: beat(listen) })
  return table
}

test('a provider never met is dialled at its heartbeat\'s addresses, without a DHT walk', async () => {
  const started: KaisarLibp2p[] = []
  try {
    const provider = await startTestNode(started, { listen: ['/memory/prober-dial-provider-1'] })
    const checker = await startTestNode(started, { listen: ['/memory/prober-dial-checker-1'] })
    await serveChallenges(provider)
    const table = heardFrom(provider)
    assert.ok(table.addressesOf(provider.peerId.toString()).every(ma => ma.toString().endsWith(`/p2p/${provider.peerId.toString()}`)), 'each address names the provider')
    assert.equal(table.list()[0]?.addresses, table.addressesOf(provider.peerId.toString()).map(ma => ma.toString()))

    const { report, dials, recordFetches } = await probe(checker, provider.peerId, table)
    assert.ok(!report.reasons.includes('unreachable'), JSON.stringify(report))
    assert.equal(report.reasons, ['no-record'], 'the ping passed; the test provider refuses the record')
    assert.equal(dials, { heartbeat: 1 })
    assert.is(recordFetches, 0, 'no DHT walk for the record')
    assert.is(checker.getConnections(provider.peerId).length, 0, 'the probe hung up the connection it opened')
  } finally {
    for (const node of started) await node.stop()
  }
})

test('a probe leaves open a connection it found, and one to a peer something tags', async () => {
  const started: KaisarLibp2p[] = []
  try {
    const provider = await startTestNode(started, { listen: ['/memory/prober-dial-provider-3'] })
    const checker = await startTestNode(started, { listen: ['/memory/prober-dial-checker-3'] })
    await serveChallenges(provider)
    const table = heardFrom(provider)
    // Connected before the probe (by gossip, the DHT, a lease): not the probe's to close.
    const before = await checker.dial(provider.getMultiaddrs())
    assert.equal((await probe(checker, provider.peerId, table)).report.reasons, ['no-record'])
    assert.equal(checker.getConnections(provider.peerId).map(c => c.id), [before.id])
    // Dialled by the probe, but tagged meanwhile (here as gossipsub tags its mesh peers).
    await before.close()
    await checker.peerStore.merge(provider.peerId, { tags: { [heartbeatTopic.topic]: { value: 100 } } })
    assert.equal((await probe(checker, provider.peerId, table)).report.reasons, ['no-record'])
    assert.is(checker.getConnections(provider.peerId).length, 1, 'a tagged peer stays connected')
  } finally {
    for (const node of started) await node.stop()
  }
})

test('with no heartbeat heard, the checker dials by id (libp2p\'s DHT walk), and the failure is unreachable', async () => {
  const started: KaisarLibp2p[] = []
  try {
    const provider = await startTestNode(started, { listen: ['/memory/prober-dial-provider-2'] })
    const checker = await startTestNode(started, { listen: ['/memory/prober-dial-checker-2'] })
    await serveChallenges(provider)
    const table = new ProviderTable({ gossip: {} as unknown as GossipService, metrics: new NodeMetrics() }, { missedBeforeOffline: 3 })
    const { report, dials } = await probe(checker, provider.peerId, table)
    // Here libp2p's walk waits for a routing table that never fills and the ping's 5 s run out,
    // twice (the retry; the record is not asked for then): the way every never-met provider went
    // before heartbeats carried addresses.
    assert.equal(report.reasons, ['unreachable'])
    assert.equal(dials, { libp2p: 2 })
  } finally {
    for (const node of started) await node.stop()
  }
})

interface StubOptions {
  providerKey?: PrivateKey
  /** Without it the probe ends at the ping or the record; with it, it reaches the leases named. */
  ledger?: Pick<Ledger, 'leasesOf'>
  /** When the epoch's probe window ends (ms from now; default `windowMs`): what a retry's pause is sized by. */
  probeEndMs?: number
}

/**
 * A Prober whose n-th dial (from 1) reaches `serve(n, frames, protocol)` over an in-memory stream
 * pair; no heartbeat table or DHT. The probe's signal aborts after `windowMs`.
 */
async function probeStub (serve: (n: number, frames: JsonFrames, protocol: string) => Promise<void>, windowMs: number, opts: StubOptions = {}): Promise<{ report: ProbeReport, retries: Record<string, number> }> {
  const { providerKey, ledger, probeEndMs = windowMs } = opts
  const metrics = new PopwMetrics(new Registry())
  let dials = 0
  const libp2p = {
    dialProtocol: async (_peer: unknown, protocol: string) => { const [checkerEnd, providerEnd] = await streamPair(); void serve(++dials, new JsonFrames(providerEnd), protocol).catch(() => {}); return checkerEnd },
    getConnections: () => []
  }
  const prober = new Prober({ libp2p: libp2p as unknown as KaisarLibp2p, ledger: (ledger ?? {}) as unknown as Ledger, records: {} as unknown as SignedRecordStore, metrics }, { challengeMs: 5, bandwidthBytes: 0, challengeAllowanceMs: 600 })
  const peerId = peerIdFromPrivateKey(providerKey ?? await generateKeyPair('Ed25519'))
  const keepAlive = setInterval(() => {}, 1000) // the stub has no socket to keep the process alive
  try {
    const report = await prober.probe({ peerId: peerId.toString(), key: new Uint8Array(peerId.toMultihash().bytes), address: '5Provider' }, { epoch: 1, times: { probeEnd: Date.now() + probeEndMs } } as unknown as EpochContext, AbortSignal.timeout(windowMs))
    return { report, retries: Object.fromEntries((await metrics.probeRetries.get()).values.map(v => [String(v.labels.probe), v.value])) }
  } finally {
    clearInterval(keepAlive)
  }
}

test('a ping lost once is tried again, and the provider is not called unreachable', async () => {
  const { report, retries } = await probeStub(async (n, frames) => {
    const req = await frames.read(challengeRequestSchema)
    if (n === 1) { frames.stream.abort(new Error('lost')); return } // the first stream dies
    await frames.write(req.op === 'ping' ? { ok: true } : { ok: false, code: 'NO', message: 'not in this test' })
  }, 10_000)
  assert.equal(report.reasons, ['no-record'], JSON.stringify(report))
  assert.equal(retries, { ping: 1, record: 1 }, 'the refused record is asked twice too')
  // Each failed try, for the checker's log: the lost ping, then the record refused twice.
  assert.equal(report.errors.map(e => e.split(' ')[0]), ['ping', 'record', 'record'], report.errors.join('; '))
  assert.match(report.errors[1] ?? '', /not in this test/)
})

test('a provider down for a moment is tried again after a pause, not at once, and is not called unreachable', async () => {
  const t0 = Date.now()
  const pings: number[] = []
  const { report, retries } = await probeStub(async (_n, frames) => {
    const req = await frames.read(challengeRequestSchema)
    if (req.op === 'ping') pings.push(Date.now() - t0)
    if (Date.now() - t0 < 2_000) { frames.stream.abort(new Error('down')); return } // refused at once, for 2 s
    await frames.write(req.op === 'ping' ? { ok: true } : { ok: false, code: 'NO', message: 'not in this test' })
  }, 12_000)
  assert.equal(report.reasons, ['no-record'], JSON.stringify(report))
  assert.equal(retries, { ping: 1, record: 1 })
  assert.is(pings.length, 2)
  // A quarter of the ≈ 12 s left: a second try at once would have been refused as the first was.
  assert.ok((pings[1] ?? 0) - (pings[0] ?? 0) >= 2_500, `second ping ${pings[1]} ms after the first ${pings[0]} ms`)
})

test('a second try cut short by the window leaves the first failure standing (no abstention)', async () => {
  const { report, retries } = await probeStub(async (n, frames) => {
    await frames.read(challengeRequestSchema)
    if (n === 1) frames.stream.abort(new Error('lost')) // fails at once, the window open
    // the second is never answered: the window closes on it
  }, 1_000)
  assert.equal(report.reasons, ['unreachable'], JSON.stringify(report))
  assert.is(report.abstain, undefined)
  assert.equal(retries, { ping: 1 })
})

test('the window closing while the challenge\'s rows are asked for is an abstention, not a failure', async () => {
  const key = await generateKeyPair('Ed25519')
  const record = await providerRecord(key)
  const { report } = await probeStub(async (_n, frames) => {
    const req = await frames.read(challengeRequestSchema)
    if (req.op === 'ping') await frames.write({ ok: true })
    else if (req.op === 'record') await frames.write({ ok: true, record: Buffer.from(record).toString('base64') })
    else if (req.op === 'challenge') await frames.write({ ok: true, root: `0x${'ab'.repeat(32)}` }) // in time; the rows are never sent
  }, 1_500, { providerKey: key })
  assert.is(report.abstain, true, JSON.stringify(report))
  assert.equal(report.reasons, [], 'nothing the provider did: no reason')
})

/** Blocks this process's event loop (the checker's, as a stalled process would). */
const block = (ms: number): void => { const until = performance.now() + ms; while (performance.now() < until); }
/** Never answers within the test (unref'd: it does not keep the process alive after it). */
const hang = async (ms: number): Promise<void> => { await new Promise(resolve => { setTimeout(resolve, ms).unref() }) }

/** A provider record, signed by `key`, whose claims the probe accepts. */
async function providerRecord (key: PrivateKey): Promise<Uint8Array> {
  return await sealRecord(key, peerIdFromPrivateKey(key), RECORD_NAMESPACES.provider, 1n, ProviderRecord.encode({
    wallet: '5Provider', region: 'DE', softwareVersion: 'test', addresses: [], inventoryJson: encodeInventory(simulatedInventory([])), benchmarkJson: '', pricesJson: ''
  }))
}

/**
 * A provider that answers every step honestly (the challenge through `challenge` when given) and
 * runs `leases` leases, whose tunnels the `t`-th try (from 1, over all leases) reaches through
 * `tunnel(t, frames)`.
 */
async function probeLeases (tunnel: (t: number, frames: JsonFrames) => Promise<void>, windowMs: number, leases = 1, opts: { challenge?: (frames: JsonFrames) => Promise<void>, probeEndMs?: number } = {}): Promise<{ report: ProbeReport, retries: Record<string, number> }> {
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key)
  const record = await providerRecord(key)
  const ids = Array.from({ length: leases }, (_, i) => `L${i + 1}`)
  const escrows: LeaseEscrow[] = ids.map(leaseId => ({ leaseId, user: '5User', provider: '5Provider', amount: 1n, pricePerHour: 1n, maxSeconds: 3600, startedAt: Date.now(), status: 'running', paidToProvider: 0n, refunded: 0n }))
  let tries = 0
  return await probeStub(async (_n, frames, protocol) => {
    if (protocol === PROTOCOLS.tunnel) { await tunnel(++tries, frames); return }
    const req = await frames.read(challengeRequestSchema)
    if (req.op === 'ping') await frames.write({ ok: true })
    else if (req.op === 'record') await frames.write({ ok: true, record: Buffer.from(record).toString('base64') })
    else if (req.op === 'leases') await frames.write({ ok: true, leases: ids.map(leaseId => ({ leaseId, status: 'running', ports: [80], token: 'checker-token' })) })
    else if (opts.challenge != null) await opts.challenge(frames)
    else {
      const answer = await honestResponder.answer({ nonce: Buffer.from(req.nonce.slice(2), 'hex'), n: req.n, deadlineMs: req.deadlineMs, provider: new Uint8Array(peerId.toMultihash().bytes) }, AbortSignal.timeout(req.deadlineMs))
      await frames.write({ ok: true, root: toHex(answer.root) })
      const open = await frames.read(openRequestSchema)
      await frames.write({ ok: true, rows: answer.open(open.rows).map(r => ({ index: r.index, data: Buffer.from(r.data).toString('base64'), proof: r.proof.map(toHex) })) })
    }
  }, windowMs, { providerKey: key, ledger: { leasesOf: async () => escrows }, ...(opts.probeEndMs != null ? { probeEndMs: opts.probeEndMs } : {}) })
}

test('a lease whose tunnel fails once is tried again, and the lease is not called unreachable', async () => {
  const { report, retries } = await probeLeases(async (t, frames) => {
    await frames.read(tunnelHeaderSchema)
    if (t === 1) { frames.stream.abort(new Error('lost')); return } // the provider's process was away a moment
    await frames.write({ ok: true })
  }, 10_000)
  assert.is(report.result, 'pass', JSON.stringify(report))
  assert.equal([report.leasesChecked, report.leasesOk], [1, 1])
  assert.equal(retries, { tunnel: 1 })
  assert.equal(report.errors.map(e => e.split(' ')[0]), ['tunnel'], 'the lost try, for the checker\'s log')
})

test('a lease whose tunnel fails twice is unreachable, and both tries are in the log', async () => {
  const { report, retries } = await probeLeases(async (_t, frames) => {
    await frames.read(tunnelHeaderSchema)
    await frames.write({ ok: false, code: 'PORT_CLOSED', message: 'the container\'s port refused' })
  }, 10_000)
  assert.equal(report.reasons, ['lease-unreachable'], JSON.stringify(report))
  assert.is(report.result, 'fail')
  assert.equal([report.leasesChecked, report.leasesOk], [1, 0])
  assert.equal(retries, { tunnel: 1 })
  assert.equal(report.errors.length, 2, report.errors.join('; '))
  assert.match(report.errors[1] ?? '', /PORT_CLOSED/)
})

test('the window closing after one lease was found unreachable leaves that failure standing, not an abstention', async () => {
  // Both tunnels hang: the first lease's two tries take the window, the second is never reached.
  const { report } = await probeLeases(async (_t, frames) => {
    await frames.read(tunnelHeaderSchema)
    await hang(20_000)
  }, 9_000, 2)
  assert.equal(report.reasons, ['lease-unreachable'], JSON.stringify(report))
  assert.is(report.abstain, undefined)
  assert.is(report.result, 'fail')
})

test('a tunnel whose first try the checker\'s own stall failed, and whose second the window cut short, is an abstention', async () => {
  const { report } = await probeLeases(async (t, frames) => {
    await frames.read(tunnelHeaderSchema)
    if (t === 1) { block(LAG_ABSTAIN_MS + 150); frames.stream.abort(new Error('lost')); return }
    await hang(20_000)
  }, 2_500)
  assert.equal(report.reasons, ['lease-unreachable'], JSON.stringify(report))
  assert.is(report.abstain, true, JSON.stringify(report))
})

test('a challenge missed in the checker\'s own stall, whose retry\'s pause the window cut short, is an abstention', async () => {
  // The window (its signal) closes long before the epoch's probe window would: the pause before
  // the second try, sized by the epoch's window, is cut short, and the first try's miss stands.
  // A stall of 2 s is past the deadline (600 ms and the ping's round trip), and under half of
  // the 5 s from the challenge's start to the window's end: read over that span, as it was, the
  // stall excused nothing.
  const { report, retries } = await probeLeases(async () => {}, 5_000, 0, {
    probeEndMs: 60_000,
    challenge: async frames => {
      block(2_000)
      await frames.write({ ok: true, root: `0x${'ab'.repeat(32)}` })
    }
  })
  assert.equal(report.reasons, ['challenge-deadline'], JSON.stringify(report))
  assert.is(report.abstain, true, JSON.stringify(report))
  assert.equal(retries, {}, 'no second try: its pause did not end before the window')
})

test('a provider gone offline in the table is not dialled at its old addresses', () => {
  let now = 1_000_000
  const table = new ProviderTable({ gossip: {} as unknown as GossipService, metrics: new NodeMetrics() }, { missedBeforeOffline: 3, now: () => now })
  const signer = { toString: () => '12D3KooWProvider' } as unknown as KaisarLibp2p['peerId']
  table.onHeartbeat({ topic: heartbeatTopic.topic, signer, role: NodeRole.PROVIDER, timestamp: now, payload: new Uint8Array(0), value: { ...beat([multiaddr('/ip4/10.0.0.1/tcp/4001')]), intervalMs: 1000 } })
  assert.equal(table.addressesOf('12D3KooWProvider').map(String), ['/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWProvider'])
  now += 3_001
  assert.equal(table.addressesOf('12D3KooWProvider'), [])
})

test('the heartbeat topic rejects an address that is not a multiaddr, and more than its limit fail to decode', async () => {
  const ctx = { signer: {} as unknown as KaisarLibp2p['peerId'], role: NodeRole.PROVIDER, timestamp: Date.now(), payload: new Uint8Array(0) }
  const good = beat([multiaddr('/ip4/127.0.0.1/tcp/4001'), multiaddr('/dns4/example.org/tcp/443/wss')])
  assert.equal(await heartbeatTopic.validate?.(good, ctx), { action: 'accept' })
  assert.equal(await heartbeatTopic.validate?.({ ...good, addresses: [Uint8Array.from([4, 127, 0, 0])] }, ctx), { action: 'reject', reason: 'bad-address' })
  assert.equal(await heartbeatTopic.validate?.({ ...good, addresses: [new Uint8Array(0)] }, ctx), { action: 'reject', reason: 'bad-address' })
  const many = Heartbeat.encode(beat(Array.from({ length: HEARTBEAT_MAX_ADDRESSES + 1 }, (_, i) => multiaddr(`/ip4/10.0.0.${i}/tcp/4001`))))
  assert.throws(() => heartbeatTopic.codec.decode(many), /too many elements/)
  assert.is(heartbeatTopic.codec.decode(Heartbeat.encode(beat([multiaddr('/ip4/10.0.0.1/tcp/1')]))).addresses.length, 1)
})

test.run()
