// Issue 2, done-when 2 and 4: CLI nodes on loopback connect through bootstrap and ping;
// a third node finds a DHT record the first put; identity survives restarts and SIGKILL.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { killAll, loopbackArgs, startNode, type CliNode } from '../helpers/cli.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import { getJson, waitFor } from '../helpers/wait.js'
import type { NodeStatus } from '../../node/node.js'

test.after(async () => { await killAll(); await removeTempDirs() })

function bootstrapOf (node: CliNode): string[] {
  const addr = node.ready.addresses.find(a => a.includes('/tcp/') && !a.includes('/ws'))
  assert.ok(addr, 'node has a TCP address')
  return ['--bootstrap', addr]
}

test('two nodes connect through bootstrap and ping; a third finds the first one\'s DHT record', async () => {
  const provider = await startNode(loopbackArgs('provider', await tempDir(), ['--heartbeat-interval', '1000']))
  const gateway = await startNode(loopbackArgs('gateway', await tempDir(), bootstrapOf(provider)))
  // The checker knows only the gateway (checked below); it starts while the first two connect.
  const starting = startNode(loopbackArgs('checker', await tempDir(), bootstrapOf(gateway)))
  starting.catch(() => {}) // awaited below; this only keeps a failure before then from going unhandled
  const status = await waitFor('gateway connected to provider', async () => {
    const s = await getJson<NodeStatus>(`${gateway.ready.api}/api/v1/status`)
    return s.peers.some(p => p.peerId === provider.ready.peerId && p.role === 'provider') ? s : undefined
  })
  assert.is(status.role, 'gateway')
  const ping = await getJson<{ rttMs: number }>(`${gateway.ready.api}/api/v1/peers/${provider.ready.peerId}/ping`)
  assert.type(ping.rttMs, 'number')
  assert.ok(ping.rttMs >= 0 && ping.rttMs < 5_000)

  // The checker knows only the gateway; the provider's record reaches it through the DHT.
  const checker = await starting
  const found = await waitFor('checker finds the provider record', async () =>
    await getJson<{ peerId: string, version: string, record: { wallet: string } }>(`${checker.ready.api}/api/v1/providers/${provider.ready.peerId}/record`), 30_000, 500)
  assert.is(found.peerId, provider.ready.peerId)
  assert.is(found.record.wallet, provider.ready.wallet)
  assert.ok(BigInt(found.version) >= 1n)
  const direct = (await getJson<NodeStatus>(`${checker.ready.api}/api/v1/status`)).peers.map(p => p.peerId)
  assert.ok(direct.includes(gateway.ready.peerId))

  for (const n of [checker, gateway, provider]) assert.is(await n.stop(), 0, 'clean stop exits 0')
})

test('peer id and wallet survive a restart; a node killed with SIGKILL restarts cleanly', async () => {
  const dir = await tempDir()
  const first = await startNode(loopbackArgs('provider', dir))
  assert.is(await first.stop(), 0)
  const second = await startNode(loopbackArgs('provider', dir))
  assert.is(second.ready.peerId, first.ready.peerId)
  assert.is(second.ready.wallet, first.ready.wallet)
  await second.kill() // no chance to close LevelDB or flush anything
  const third = await startNode(loopbackArgs('provider', dir))
  assert.is(third.ready.peerId, first.ready.peerId)
  assert.is(third.ready.wallet, first.ready.wallet)
  const health = await getJson<{ ok: boolean }>(`${third.ready.api}/healthz`)
  assert.is(health.ok, true)
  assert.is(await third.stop(), 0)
})

test.run()
