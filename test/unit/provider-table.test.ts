// The live provider table (node/services/provider-table.ts): what its three readers get. The
// metrics scrape and the node's status read `counts()`, a discovery reads `get()` for one provider,
// the HTTP API `list()`; only the last two parse heartbeat addresses, and they agree with each
// other and with the counts.
import { NodeRole } from '../../protocols/gossip/codec.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { heartbeatTopic } from '../../node/network/gossip/topics.js'
import { NodeMetrics } from '../../node/metrics/registry.js'
import { ProviderTable } from '../../node/services/provider-table.js'
import type { GossipService } from '../../node/network/gossip/service.js'
import type { PeerId } from '@libp2p/interface'

const INTERVAL_MS = 10_000

function heartbeatFrom (signer: PeerId, timestamp: number, addresses: Array<Uint8Array<ArrayBuffer>>): Parameters<ProviderTable['onHeartbeat']>[0] {
  return {
    topic: heartbeatTopic.topic,
    signer,
    role: NodeRole.PROVIDER,
    timestamp,
    payload: new Uint8Array(0),
    value: { uptimeS: 1n, intervalMs: INTERVAL_MS, freeCpus: 2, freeMemoryBytes: 1n, freeGpus: 0, runningLeases: 0, recordVersion: 1n, sequence: 0n, addresses }
  }
}

test('counts, get and list agree: online, offline, unknown, and addresses ending with the provider\'s id', async () => {
  let now = 1_000_000
  const table = new ProviderTable({ gossip: {} as unknown as GossipService, metrics: new NodeMetrics() }, { missedBeforeOffline: 3, now: () => now })
  const early = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const late = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  table.onHeartbeat(heartbeatFrom(early, now, [multiaddr('/ip4/127.0.0.1/tcp/4001').bytes]))
  now += 4 * INTERVAL_MS // `early` has now missed more than 3 of its intervals
  table.onHeartbeat(heartbeatFrom(late, now, [multiaddr(`/ip4/127.0.0.1/tcp/4002/p2p/${late.toString()}`).bytes, new Uint8Array([0xff, 0xff])]))

  assert.equal(table.counts(), { online: 1, known: 2 })
  assert.is(table.get(stranger.toString()), undefined)
  const lateStatus = table.get(late.toString())
  assert.is(lateStatus?.online, true)
  // The address that already named the provider is kept as it is; the one that does not parse is left out.
  assert.equal(lateStatus?.addresses, [`/ip4/127.0.0.1/tcp/4002/p2p/${late.toString()}`])
  const earlyStatus = table.get(early.toString())
  assert.is(earlyStatus?.online, false)
  assert.equal(earlyStatus?.addresses, [`/ip4/127.0.0.1/tcp/4001/p2p/${early.toString()}`])
  // Offline: known, listed, but no address to dial.
  assert.equal(table.addressesOf(early.toString()), [])

  const listed = table.list()
  assert.equal(listed, [earlyStatus, lateStatus])
  assert.is(listed.filter(p => p.online).length, table.counts().online)
})

test('kaisar_providers_online is counted when scraped, from the table the node started, and not after it stopped', async () => {
  let now = 1_000_000
  const metrics = new NodeMetrics()
  const gossip = { register: () => {} } as unknown as GossipService
  const table = new ProviderTable({ gossip, metrics }, { missedBeforeOffline: 3, now: () => now })
  const gauge = async (): Promise<number | undefined> => (await metrics.providersOnline.get()).values[0]?.value
  await table.start()
  const a = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const b = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  table.onHeartbeat(heartbeatFrom(a, now, []))
  table.onHeartbeat(heartbeatFrom(b, now, []))
  assert.is(await gauge(), 2, 'a scrape right after two heartbeats sees both, with no timer to wait for')
  now += 4 * INTERVAL_MS
  table.onHeartbeat(heartbeatFrom(b, now, []))
  assert.is(await gauge(), 1)
  assert.match(await metrics.registry.metrics(), /kaisar_providers_online 1\b/)
  await table.stop()
  table.onHeartbeat(heartbeatFrom(a, now, []))
  assert.is(await gauge(), 1, 'a stopped table no longer feeds the gauge')
})

test.run()
