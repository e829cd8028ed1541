// Issue 4, done-when 3 and 4: 1 gateway + 5 providers (inventories from fixtures) + 1 client
// on loopback as real processes. `providers --gpu …` returns exactly the matching providers
// with verified records; forged records (wrong signer, an older version) put into the DHT are
// rejected; a provider killed with SIGKILL is offline within 3 heartbeat intervals, and comes
// back with the same identity and record version + 1.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryLevel } from 'memory-level'
import fs from 'node:fs/promises'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RECORD_NAMESPACES } from '../../protocols/ids.js'
import { recordKey, sealRecord } from '../../protocols/records/codec.js'
import { SIM_GPUS, simulatedInventory } from '../../sim/hardware.js'
import { NodeMetrics } from '../../node/metrics/registry.js'
import { createNetwork, type KaisarLibp2p } from '../../node/network/libp2p.js'
import { RecordVersionIndex, recordValidators } from '../../node/network/records/validators.js'
import { killAll, loopbackArgs, runCli, startNode, type CliNode } from '../helpers/cli.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import { getJson, getText, metricValue, waitFor } from '../helpers/wait.js'
import type { DiscoveredProvider } from '../../node/services/discovery.js'
import type { ProviderStatus } from '../../node/services/provider-table.js'
import type { StateDb } from '../../node/store/state-db.js'

let harness: KaisarLibp2p | undefined
test.after(async () => { await harness?.stop(); await killAll(); await removeTempDirs() })

const HEARTBEAT_MS = 1000

const inventory = simulatedInventory
const { h100: H100, a100: A100, rtx4090: RTX4090 } = SIM_GPUS
const FIXTURES: Record<string, { region: string, gpus: typeof H100[] }> = {
  p1: { region: 'DE', gpus: [H100] },
  p2: { region: 'US', gpus: [A100, A100] },
  p3: { region: 'DE', gpus: [RTX4090] },
  p4: { region: 'FR', gpus: [] },
  p5: { region: 'US', gpus: [H100] }
}

test('discovery, forged records, SIGKILL and restart', async () => {
  const gateway = await startNode(loopbackArgs('gateway', await tempDir()))
  const boot = ['--bootstrap', gateway.ready.addresses[0] as string]
  const providers: Record<string, CliNode> = {}
  const dirs: Record<string, string> = {}
  const argsOf: Record<string, string[]> = {}
  for (const [name, f] of Object.entries(FIXTURES)) {
    dirs[name] = await tempDir()
    const file = path.join(dirs[name], 'inventory.json')
    await fs.writeFile(file, JSON.stringify(inventory(f.gpus)))
    argsOf[name] = loopbackArgs('provider', dirs[name], [...boot, '--inventory-file', file, '--region', f.region, '--heartbeat-interval', String(HEARTBEAT_MS)])
  }
  // The client (a checker) needs only the gateway too: it starts with the providers.
  const [, client] = await Promise.all([
    Promise.all(Object.keys(FIXTURES).map(async name => { providers[name] = await startNode(argsOf[name] as string[]) })),
    startNode(loopbackArgs('checker', await tempDir(), boot))
  ])
  const idOf = (name: string): string => (providers[name] as CliNode).ready.peerId

  async function find (flags: string[], expect: string[]): Promise<DiscoveredProvider[]> {
    const want = expect.map(idOf).sort()
    let last: DiscoveredProvider[] = []
    await waitFor(`providers ${flags.join(' ')} → ${expect.join(',')}`, async () => {
      const r = await runCli(['providers', '--api', client.ready.api, '--json', '--timeout', '3000', ...flags])
      if (r.code !== 0) throw new Error(r.stderr)
      last = JSON.parse(r.stdout) as DiscoveredProvider[]
      return JSON.stringify(last.map(p => p.peerId).sort()) === JSON.stringify(want)
    }, 40_000, 500).catch(err => { throw new Error(`${(err as Error).message}; last answer: ${JSON.stringify(last.map(p => p.peerId))}`) })
    return last
  }

  // Exactly the matching providers, each with a verified record of its own wallet.
  const h100 = await find(['--gpu', 'h100-sxm'], ['p1', 'p5'])
  for (const p of h100) {
    const name = Object.keys(providers).find(n => idOf(n) === p.peerId) as string
    assert.is(p.wallet, (providers[name] as CliNode).ready.wallet)
    assert.ok(BigInt(p.recordVersion) >= 1n)
    assert.is(p.gpus[0]?.model, 'h100-sxm')
  }
  // The other queries are independent of one another: asked at once.
  const [,,,,,, all] = await Promise.all([
    find(['--gpu', 'rtx-4090'], ['p3']),
    find(['--gpu', 'a100-sxm-80gb'], ['p2']),
    find(['--min-vram', '40'], ['p1', 'p2', 'p5']),
    find(['--region', 'DE'], ['p1', 'p3']),
    find(['--gpu', 'datacenter', '--region', 'US'], ['p2', 'p5']),
    find(['--gpu', 'h200'], []),
    find([], ['p1', 'p2', 'p3', 'p4', 'p5'])
  ])
  assert.ok(all.every(p => p.online === true), 'joined with the live table')

  // A harness DHT peer captures p3's genuine record, then forges one under p1's key.
  const db: StateDb = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
  const key = await generateKeyPair('Ed25519')
  harness = await createNetwork({
    privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], transport: 'tcp', websockets: false, agentVersion: 'harness',
    maxConnections: 50, inboundConnectionThreshold: 50, dhtServer: true, relayServer: false, autonat: false, dcutr: false,
    records: recordValidators(new RecordVersionIndex(db), new NodeMetrics())
  })
  await harness.start()
  await harness.dial(multiaddr(gateway.ready.addresses[0] as string))
  const p3Key = recordKey(RECORD_NAMESPACES.provider, peerIdFromString(idOf('p3')))
  const oldP3 = await waitFor('harness fetches p3 record', async () => await harness?.contentRouting.get(p3Key, { signal: AbortSignal.timeout(5000) }), 20_000)
  const forged = await sealRecord(key, harness.peerId, RECORD_NAMESPACES.provider, 99n, new TextEncoder().encode('evil'))
  await harness.contentRouting.put(recordKey(RECORD_NAMESPACES.provider, peerIdFromString(idOf('p1'))), forged).catch(() => {})
  await waitFor('wrong-signer rejection counted on the gateway', async () =>
    metricValue(await getText(`${gateway.ready.api}/metrics`), 'kaisar_records_rejected_total', { reason: 'wrong-signer' }) >= 1)
  await find(['--gpu', 'h100-sxm'], ['p1', 'p5']) // p1's genuine record still served

  // SIGKILL p3: offline on the gateway within 3 heartbeat intervals.
  const p3 = providers.p3 as CliNode
  const oldVersion = BigInt((await getJson<ProviderStatus[]>(`${gateway.ready.api}/api/v1/providers`)).find(p => p.peerId === idOf('p3'))?.heartbeat.recordVersion ?? '0')
  assert.ok(oldVersion >= 1n)
  await p3.kill()
  const killedAt = Date.now()
  await waitFor('p3 offline on the gateway', async () =>
    (await getJson<ProviderStatus[]>(`${gateway.ready.api}/api/v1/providers`)).find(p => p.peerId === idOf('p3'))?.online === false, 10_000, 50)
  const detectedMs = Date.now() - killedAt
  assert.ok(detectedMs <= 3 * HEARTBEAT_MS + 500, `offline after ${detectedMs} ms (3 intervals = ${3 * HEARTBEAT_MS} ms)`)

  // Restarted: same identity, record version + 1, online again.
  const again = await startNode(argsOf.p3 as string[])
  providers.p3 = again
  assert.is(again.ready.peerId, p3.ready.peerId)
  assert.is(again.ready.wallet, p3.ready.wallet)
  const back = await waitFor('p3 online again with the next record version', async () => {
    const row = (await getJson<ProviderStatus[]>(`${gateway.ready.api}/api/v1/providers`)).find(p => p.peerId === idOf('p3'))
    return row?.online === true && BigInt(row.heartbeat.recordVersion) > oldVersion ? row : undefined
  }, 20_000)
  assert.is(BigInt(back.heartbeat.recordVersion), oldVersion + 1n)
  const [rtx] = await find(['--gpu', 'rtx-4090'], ['p3'])
  await waitFor('discovery serves the new version', async () => {
    const [p] = JSON.parse((await runCli(['providers', '--api', client.ready.api, '--json', '--gpu', 'rtx-4090', '--timeout', '3000'])).stdout) as DiscoveredProvider[]
    return p != null && BigInt(p.recordVersion) === oldVersion + 1n
  }, 20_000, 500)
  assert.ok(rtx != null)

  // Replaying p3's previous genuine record (older version) is refused by nodes that know the newer one.
  await harness.contentRouting.put(p3Key, oldP3).catch(() => {})
  await waitFor('older-version rejection counted on the gateway', async () =>
    metricValue(await getText(`${gateway.ready.api}/metrics`), 'kaisar_records_rejected_total', { reason: 'older-version' }) >= 1)
  const [latest] = JSON.parse((await runCli(['providers', '--api', client.ready.api, '--json', '--gpu', 'rtx-4090'])).stdout) as DiscoveredProvider[]
  assert.is(BigInt(latest?.recordVersion ?? '0'), oldVersion + 1n)

  for (const n of [client, ...Object.values(providers), gateway]) await n.stop()
})

test.run()
