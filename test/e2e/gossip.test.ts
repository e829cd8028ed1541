// Issue 2, done-when 3: a gossip message published by one of 5 nodes reaches the other 4;
// unsigned, malformed and out-of-role messages are rejected by the topic validator and
// counted in /metrics.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { NodeRole, sealEnvelope } from '../../protocols/gossip/codec.js'
import { SignedEnvelope } from '../../protocols/gossip/envelope.js'
import { Heartbeat } from '../../protocols/gossip/heartbeat.js'
import { TOPICS } from '../../protocols/ids.js'
import { NodeMetrics } from '../../node/metrics/registry.js'
import { createNetwork, type KaisarLibp2p } from '../../node/network/libp2p.js'
import { recordValidators, RecordVersionIndex } from '../../node/network/records/validators.js'
import { killAll, loopbackArgs, startNode, type CliNode } from '../helpers/cli.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import { getJson, getText, metricValue, waitFor } from '../helpers/wait.js'
import { Level } from 'level'
import type { ProviderStatus } from '../../node/services/provider-table.js'

let harness: KaisarLibp2p | undefined
let harnessDb: Level<string, Uint8Array> | undefined
test.after(async () => {
  await harness?.stop()
  await harnessDb?.close()
  await killAll()
  await removeTempDirs()
})

const heartbeatBytes = (): Uint8Array<ArrayBuffer> => Heartbeat.encode({ uptimeS: 1n, intervalMs: 1000, freeCpus: 1, freeMemoryBytes: 1n, freeGpus: 0, runningLeases: 0, recordVersion: 1n, sequence: 0n })

test('a heartbeat from one of 5 nodes reaches the other 4; forged ones are rejected and counted', async () => {
  const gateway = await startNode(loopbackArgs('gateway', await tempDir()))
  const boot = ['--bootstrap', gateway.ready.addresses[0] as string]
  const others: CliNode[] = await Promise.all([
    startNode(loopbackArgs('provider', await tempDir(), [...boot, '--heartbeat-interval', '500'])),
    startNode(loopbackArgs('checker', await tempDir(), boot)),
    startNode(loopbackArgs('checker', await tempDir(), boot)),
    startNode(loopbackArgs('checker', await tempDir(), boot))
  ])
  const provider = others[0] as CliNode
  // Every non-provider node's live table shows the provider online: its heartbeats reached all four.
  for (const node of [gateway, ...others.slice(1)]) {
    await waitFor(`provider online at ${node.ready.role} ${node.ready.peerId}`, async () => {
      const table = await getJson<ProviderStatus[]>(`${node.ready.api}/api/v1/providers`)
      return table.some(p => p.peerId === provider.ready.peerId && p.online)
    }, 20_000)
    const metrics = await getText(`${node.ready.api}/metrics`)
    assert.ok(metricValue(metrics, 'kaisar_gossip_received_total', { topic: TOPICS.heartbeat }) >= 1)
  }
  const published = metricValue(await getText(`${provider.ready.api}/metrics`), 'kaisar_gossip_published_total', { topic: TOPICS.heartbeat })
  assert.ok(published >= 1, 'the provider counts what it published')

  // A harness peer connects to the gateway and publishes forged heartbeats.
  const dir = await tempDir()
  harnessDb = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  const metrics = new NodeMetrics()
  const key = await generateKeyPair('Ed25519')
  harness = await createNetwork({
    privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], transport: 'tcp', websockets: false, agentVersion: 'harness',
    maxConnections: 10, inboundConnectionThreshold: 10, dhtServer: false, relayServer: false, autonat: false, dcutr: false,
    records: recordValidators(new RecordVersionIndex(harnessDb), metrics)
  })
  await harness.start()
  harness.services.pubsub.subscribe(TOPICS.heartbeat)
  await harness.dial(multiaddr(gateway.ready.addresses[0] as string))
  await waitFor('gateway subscription seen by harness', () => harness?.services.pubsub.getSubscribers(TOPICS.heartbeat).some(p => p.toString() === gateway.ready.peerId))

  const signed = SignedEnvelope.decode(await sealEnvelope(key, harness.peerId, TOPICS.heartbeat, NodeRole.PROVIDER, heartbeatBytes()))
  const forged = {
    unsigned: SignedEnvelope.encode({ ...signed, signature: new Uint8Array(0) }),
    malformed: new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
    'out-of-role': await sealEnvelope(key, harness.peerId, TOPICS.heartbeat, NodeRole.CHECKER, heartbeatBytes())
  }
  for (const bytes of Object.values(forged)) await harness.services.pubsub.publish(TOPICS.heartbeat, bytes)

  const text = await waitFor('all three rejections counted on the gateway', async () => {
    const t = await getText(`${gateway.ready.api}/metrics`)
    return Object.keys(forged).every(reason => metricValue(t, 'kaisar_gossip_rejected_total', { topic: TOPICS.heartbeat, reason }) >= 1) ? t : undefined
  })
  for (const reason of Object.keys(forged)) assert.is(metricValue(text, 'kaisar_gossip_rejected_total', { topic: TOPICS.heartbeat, reason }), 1, reason)
  // None of them made the harness look like a provider.
  const table = await getJson<ProviderStatus[]>(`${gateway.ready.api}/api/v1/providers`)
  assert.not.ok(table.some(p => p.peerId === harness?.peerId.toString()))
  // Rejected messages are not forwarded: the checkers, reached only through the gateway, saw none.
  for (const checker of others.slice(1)) {
    const t = await getText(`${checker.ready.api}/metrics`)
    assert.is(metricValue(t, 'kaisar_gossip_rejected_total', { topic: TOPICS.heartbeat }), 0)
  }

  for (const n of [...others, gateway]) assert.is(await n.stop(), 0)
})

test.run()
