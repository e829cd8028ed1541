// Issue 5 end to end, with real processes on loopback and a real Docker engine:
// order → pay → deploy → events in order → connect → HTTP GET through the tunnel → cancel →
// container gone, escrow settled; twice in a row with nothing left behind. Then: access
// control on tunnels, no/short escrow, a missing image and a GPU request.
import http from 'node:http'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { u8aToHex } from '@polkadot/util'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { leaseCreatePayload, type LeaseEvent, type Order } from '../../protocols/lease/messages.js'
import { knowProvider, leaseEvents, openTunnel, TunnelRefusedError } from '../../node/user/lease-client.js'
import { UserNode } from '../../node/user/user-node.js'
import { SIM_GPUS, simulatedInventory } from '../../sim/hardware.js'
import { CLI, killAll, loopbackArgs, pidAlive, runCli, startNode, type CliNode } from '../helpers/cli.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import { getJson, getText, metricValue, waitFor } from '../helpers/wait.js'
import { TestEngine } from './engine.js'
import type { PeerId, Stream } from '@libp2p/interface'

const engine = new TestEngine()
const children: ChildProcess[] = []
const users: UserNode[] = []
test.before(async () => { await engine.start() })
test.after(async () => {
  for (const u of users) await u.close().catch(() => {})
  for (const c of children) if (c.exitCode == null) c.kill('SIGKILL')
  await killAll()
  const host = engine.running
  if (host != null) {
    // Whatever a failed test left: no lease container may outlive the file.
    const d = engine.dockerode()
    for (const c of await d.listContainers({ all: true, filters: { label: ['kaisar.managed=true'] } })) await d.getContainer(c.Id).remove({ force: true }).catch(() => {})
  }
  await engine.stop()
  await removeTempDirs()
})

interface Net { gateway: CliNode, provider: CliNode, env: Record<string, string> }

async function network (providerExtra: string[] = []): Promise<Net> {
  const env = { DOCKER_HOST: engine.ready().dockerHost }
  const gateway = await startNode(loopbackArgs('gateway', await tempDir()))
  const provider = await startNode(loopbackArgs('provider', await tempDir(), ['--bootstrap', gateway.ready.addresses[0] as string, '--containers', 'docker', ...providerExtra]), { env })
  // The provider is findable once its capability keys are in the DHT, and can be paid once registered.
  await waitFor('provider announced and registered', async () => {
    const s = await getJson<{ provider?: { registered: boolean, capabilitiesPending: number } }>(`${provider.ready.api}/api/v1/status`)
    return s.provider?.registered === true && s.provider.capabilitiesPending === 0
  }, 30_000, 200)
  return { gateway, provider, env }
}

async function leaseContainers (leaseId?: string): Promise<number> {
  const label = leaseId != null ? [`kaisar.lease=${leaseId}`] : ['kaisar.managed=true']
  return (await engine.dockerode().listContainers({ all: true, filters: { label } })).length
}

async function httpGet (port: number, pathName = '/'): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: pathName, agent: false }, res => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    }).on('error', reject)
  })
}

/** `kaisar-node connect` as a process; resolves with the local port it listens on. */
async function connect (leaseId: string, gateway: string, dataDir: string): Promise<{ proc: ChildProcess, port: number }> {
  const proc = spawn(process.execPath, [CLI, 'connect', leaseId, '--local', '0:80', '--gateway', gateway, '--data-dir', dataDir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(proc)
  let err = ''
  proc.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const line = out.split('\n').find(l => l.includes('"listening"'))
      if (line != null) resolve(Number((JSON.parse(line) as { local: string }).local.split(':').pop()))
    })
    proc.once('exit', code => { reject(new Error(`connect exited ${String(code)}: ${err}`)) })
  })
  return { proc, port }
}

const ORDER_ARGS = ['--image', 'kaisar/test-http:1', '--port', '80', '--cpus', '0.5', '--memory', '64m', '--hours', '1', '--json']

test('order → pay → deploy → connect → GET → cancel; twice, nothing left behind', async () => {
  const net = await network()
  const userDir = await tempDir()
  const gw = net.gateway.ready.addresses[0] as string
  for (let round = 1; round <= 2; round++) {
    const before = await leaseContainers()
    const r = await runCli(['order', ...ORDER_ARGS, '--gateway', gw, '--data-dir', userDir], { timeoutMs: 120_000 })
    assert.is(r.code, 0, `order failed: ${r.stderr}`)
    const placed = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { leaseId: string, provider: string, events: string[], escrow: string, choice: { why: string }, ingress: string }
    assert.is(placed.provider, net.provider.ready.peerId)
    assert.equal(placed.events, ['accepted', 'deploying', 'deployed'], 'events in order')
    assert.match(placed.choice.why, /price/)
    assert.is(await leaseContainers(placed.leaseId), 1)
    const escrow = await getJson<{ status: string, user: string }>(`${net.gateway.ready.api}/api/v1/ledger/escrow/${placed.leaseId}`)
    assert.ok(['funded', 'running'].includes(escrow.status))

    const c = await connect(placed.leaseId, gw, userDir)
    const page = await httpGet(c.port)
    assert.is(page.status, 200)
    assert.match(page.body, /kaisar test-http:1 ok/)
    c.proc.kill('SIGTERM')
    await new Promise(resolve => c.proc.once('exit', resolve))

    // The same page for a browser, through the gateway's HTTP ingress: the token moves into a cookie.
    const api = net.gateway.ready.api
    const first = await fetch(`${api}${placed.ingress}`, { redirect: 'manual' })
    assert.is(first.status, 303)
    const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0] as string
    assert.match(cookie, new RegExp(`^kaisar_token_${placed.leaseId}=`))
    const viaGateway = await fetch(`${api}${first.headers.get('location') ?? ''}`, { headers: { cookie } })
    assert.is(viaGateway.status, 200)
    assert.match(await viaGateway.text(), /kaisar test-http:1 ok/)
    assert.is((await fetch(`${api}/lease/${placed.leaseId}/`)).status, 401, 'no token, no page')
    assert.is((await fetch(`${api}/lease/Lother/`, { headers: { cookie: cookie.replace(placed.leaseId, 'Lother') } })).status, 403, 'a token opens its own lease only')

    const cancel = await runCli(['cancel', placed.leaseId, '--gateway', gw, '--data-dir', userDir, '--json'], { timeoutMs: 60_000 })
    assert.is(cancel.code, 0, cancel.stderr)
    assert.is(await leaseContainers(placed.leaseId), 0, 'container removed')
    const settled = await waitFor('escrow settled', async () => {
      const e = await getJson<{ status: string, paidToProvider: string, refunded: string, amount: string }>(`${net.gateway.ready.api}/api/v1/ledger/escrow/${placed.leaseId}`)
      return e.status === 'closed' ? e : undefined
    }, 20_000)
    assert.is(BigInt(settled.paidToProvider) + BigInt(settled.refunded), BigInt(settled.amount))
    assert.ok(BigInt(settled.refunded) > 0n, 'unserved time is refunded')
    assert.is(await leaseContainers(), before, `round ${round}: no leftover containers`)
    assert.not.ok(pidAlive(c.proc.pid as number), 'connect process gone')
  }
  const leases = await runCli(['leases', '--gateway', gw, '--data-dir', userDir, '--json'])
  const list = JSON.parse(leases.stdout) as Array<{ status: string }>
  assert.is(list.length, 2)
  assert.ok(list.every(l => l.status === 'stopped'))
  for (const n of [net.provider, net.gateway]) assert.is(await n.stop(), 0)
})

/** Opens a tunnel that the provider must refuse with `code`. */
async function refused (user: UserNode, provider: PeerId, token: string, port: number, code: string): Promise<void> {
  try {
    const s = await openTunnel(user.libp2p, provider, token, port, { signal: AbortSignal.timeout(10_000) })
    await s.close()
    assert.unreachable(`tunnel with ${code} opened`)
  } catch (err) {
    assert.instance(err, TunnelRefusedError, String(err))
    assert.is((err as TunnelRefusedError).code, code)
  }
}

/**
 * A one-minute lease (the shortest an order can ask for) placed by the tunnels test and checked
 * once it has run out by the last test of this file, so that the tests in between run during its
 * minute instead of the file sitting it out.
 */
let expiring: { net: Net, alice: UserNode, provider: PeerId, lease: { leaseId: string, token: string, expiresAt: number } } | undefined

test('tunnels: wrong key, foreign token, wrong port, cancelled lease refused and counted; the container is unaffected', async () => {
  const net = await network()
  const gw = net.gateway.ready.addresses[0] as string
  const aliceDir = await tempDir()
  // The one-minute lease first: its minute runs from here (see `expiring`).
  const shortArgs = ORDER_ARGS.map(x => x === '1' ? String(60 / 3600) : x)
  const b = JSON.parse((await runCli(['order', ...shortArgs, '--gateway', gw, '--data-dir', aliceDir], { timeoutMs: 120_000 })).stdout.trim().split('\n').pop() as string) as { leaseId: string, token: string, expiresAt: number }
  const a = JSON.parse((await runCli(['order', ...ORDER_ARGS, '--gateway', gw, '--data-dir', aliceDir], { timeoutMs: 120_000 })).stdout.trim().split('\n').pop() as string) as { leaseId: string, token: string }
  const bob = await UserNode.open({ dataDir: await tempDir(), gateways: [gw], chain: 'local' })
  users.push(bob)
  const alice = await UserNode.open({ dataDir: aliceDir, gateways: [gw], chain: 'local' })
  users.push(alice)
  const provider = await knowProvider(bob.libp2p, net.provider.ready.peerId, net.provider.ready.addresses)
  await knowProvider(alice.libp2p, net.provider.ready.peerId, net.provider.ready.addresses)

  // Bob presents Alice's token: another key than the token's holder (and another user's lease).
  await refused(bob, provider, a.token, 80, 'wrong-holder')
  // Alice asks for a port her token does not open.
  await refused(alice, provider, a.token, 7, 'port-not-granted')
  // A token whose body was edited (longer expiry) no longer verifies.
  const [body, sig] = a.token.split('.') as [string, string]
  const edited = JSON.parse(Buffer.from(body, 'base64url').toString()) as { expiresAt: number }
  edited.expiresAt += 3_600_000
  await refused(alice, provider, `${Buffer.from(JSON.stringify(edited)).toString('base64url')}.${sig}`, 80, 'bad-token')
  await refused(alice, provider, 'garbage', 80, 'bad-token')

  // Alice's own token works, and the container still serves after the refusals.
  const ok = await openTunnel(alice.libp2p, provider, a.token, 80, { signal: AbortSignal.timeout(10_000) })
  const reply = await requestOverStream(ok, 'GET / HTTP/1.0\r\n\r\n')
  assert.match(reply, /kaisar test-http:1 ok/)

  // Cancelled (by Alice's node: her data dir is open here): the same token is refused.
  const stopped: LeaseEvent[] = []
  for await (const e of leaseEvents(alice.libp2p, provider, { op: 'cancel', leaseId: a.leaseId })) stopped.push(e)
  assert.is(stopped[0]?.event, 'stopped', JSON.stringify(stopped))
  await refused(alice, provider, a.token, 80, 'lease-not-running')

  // The network stays up for the expiry test at the end of the file.
  expiring = { net, alice, provider, lease: b }
})

test('no escrow or a short one → no container; a missing image and a GPU request → failed with the reason', async () => {
  const dir = await tempDir()
  const inv = path.join(dir, 'inventory.json')
  await fs.writeFile(inv, JSON.stringify(simulatedInventory([SIM_GPUS.rtx4090], { threads: 8, memoryGiB: 16 })))
  const net = await network(['--inventory-file', inv])
  const gw = net.gateway.ready.addresses[0] as string
  const user = await UserNode.open({ dataDir: await tempDir(), gateways: [gw], chain: 'local' })
  users.push(user)
  const provider = await knowProvider(user.libp2p, net.provider.ready.peerId, net.provider.ready.addresses)
  const order: Order = { image: 'kaisar/test-http:1', cpus: 0.5, memoryBytes: 64 * 2 ** 20, gpus: 0, ports: [80], seconds: 3600 }
  const ask = async (leaseId: string, o: Order): Promise<LeaseEvent[]> => {
    const signature = u8aToHex(user.identity.wallet.sign(leaseCreatePayload(leaseId, o, user.libp2p.peerId.toString(), net.provider.ready.peerId)))
    const events: LeaseEvent[] = []
    for await (const e of leaseEvents(user.libp2p, provider, { op: 'create', leaseId, order: o, user: user.identity.wallet.address, signature }, { signal: AbortSignal.timeout(60_000) })) events.push(e)
    return events
  }
  const pay = async (leaseId: string, o: Order, seconds: number): Promise<void> => {
    const { quote } = await (await import('../../node/user/lease-client.js')).requestQuote(user.libp2p, provider, o)
    await user.ledger.submit(user.identity.wallet, { kind: 'faucet', amount: 10n ** 15n })
    await user.ledger.submit(user.identity.wallet, { kind: 'deposit', leaseId, provider: quote.wallet, amount: BigInt(quote.pricePerHour) * BigInt(seconds) / 3600n + 1n, pricePerHour: BigInt(quote.pricePerHour), maxSeconds: seconds })
  }

  const none = await ask('Lnoescrow', order)
  assert.equal(none.map(e => e.event), ['error'])
  assert.is((none[0] as { code: string }).code, 'NO_ESCROW')
  await pay('Lshort', order, 600)
  const short = await ask('Lshort', order)
  assert.is((short[0] as { code: string }).code, 'ESCROW_TOO_SHORT')
  assert.is(await leaseContainers('Lnoescrow') + await leaseContainers('Lshort'), 0, 'no payment, no container')

  const missing = { ...order, image: 'kaisar/does-not-exist:1' }
  await pay('Lmissing', missing, 3600)
  const m = (await ask('Lmissing', missing)).filter(e => e.event !== 'pulling') // the engine tries a pull first
  assert.equal(m.map(e => e.event), ['accepted', 'deploying', 'failed'])
  assert.match((m[2] as { reason: string }).reason, /does-not-exist|not found|no such|pull/i)

  const gpu = { ...order, gpus: 1, gpuModel: 'rtx-4090' }
  await pay('Lgpu', gpu, 3600)
  const g = await ask('Lgpu', gpu)
  assert.is(g.at(-1)?.event, 'failed', JSON.stringify(g))
  assert.is((g.at(-1) as { code: string }).code, 'GPU_UNAVAILABLE')
  assert.match((g.at(-1) as { reason: string }).reason, /nvidia|gpu|device/i)
  assert.is(await leaseContainers('Lmissing') + await leaseContainers('Lgpu'), 0, 'failed deployments leave nothing')
  // Failed leases give the whole escrow back.
  const e = await waitFor('failed escrow refunded', async () => {
    const x = await getJson<{ status: string, refunded: string, amount: string }>(`${net.gateway.ready.api}/api/v1/ledger/escrow/Lmissing`)
    return x.status === 'closed' ? x : undefined
  }, 20_000)
  assert.is(e.refunded, e.amount)
  for (const n of [net.provider, net.gateway]) await n.stop()
})

test('logs through the provider; a restarted provider re-attaches a running container and fails a dead one, never re-creating it', async () => {
  const providerDir = await tempDir()
  const env = { DOCKER_HOST: engine.ready().dockerHost }
  const gateway = await startNode(loopbackArgs('gateway', await tempDir()))
  const gw = gateway.ready.addresses[0] as string
  const providerArgs = loopbackArgs('provider', providerDir, ['--bootstrap', gw, '--containers', 'docker'])
  let provider = await startNode(providerArgs, { env })
  await waitFor('provider ready for orders', async () => {
    const st = await getJson<{ provider?: { registered: boolean, capabilitiesPending: number } }>(`${provider.ready.api}/api/v1/status`)
    return st.provider?.registered === true && st.provider.capabilitiesPending === 0
  }, 30_000, 200)
  const userDir = await tempDir()
  const order = async (): Promise<{ leaseId: string }> => {
    const r = await runCli(['order', ...ORDER_ARGS, '--gateway', gw, '--data-dir', userDir], { timeoutMs: 120_000 })
    assert.is(r.code, 0, r.stderr)
    return JSON.parse(r.stdout.trim().split('\n').pop() as string) as { leaseId: string }
  }
  const keep = await order()
  const doomed = await order()

  // The test image writes one line to stdout and one to stderr at start.
  const logs = await runCli(['logs', keep.leaseId, '--gateway', gw, '--data-dir', userDir])
  assert.is(logs.code, 0, logs.stderr)
  assert.ok(logs.stdout.length > 0 && logs.stderr.length > 0, `stdout ${JSON.stringify(logs.stdout)} stderr ${JSON.stringify(logs.stderr)}`)

  const ids = async (leaseId: string): Promise<string[]> => (await engine.dockerode().listContainers({ all: true, filters: { label: [`kaisar.lease=${leaseId}`] } })).map(c => c.Id)
  const keptId = await ids(keep.leaseId)
  await provider.kill()
  // While the provider is down, one container dies.
  const [doomedId] = await ids(doomed.leaseId)
  await engine.dockerode().getContainer(doomedId as string).kill({ signal: 'SIGKILL' })
  provider = await startNode(providerArgs, { env })

  const leases = await waitFor('leases reconciled after the restart', async () => {
    const list = await getJson<Array<{ leaseId: string, status: string, reason?: string }>>(`${provider.ready.api}/api/v1/leases`)
    const d = list.find(l => l.leaseId === doomed.leaseId)
    return d?.status === 'failed' ? list : undefined
  }, 20_000)
  assert.is(leases.find(l => l.leaseId === keep.leaseId)?.status, 'running')
  assert.match(leases.find(l => l.leaseId === doomed.leaseId)?.reason ?? '', /died|exit/)
  assert.equal(await ids(keep.leaseId), keptId, 'the same container, re-attached')
  assert.equal(await ids(doomed.leaseId), [], 'the dead one removed, not re-created')
  // The re-attached lease still serves through a tunnel.
  const c = await connect(keep.leaseId, gw, userDir)
  assert.match((await httpGet(c.port)).body, /kaisar test-http:1 ok/)
  c.proc.kill('SIGTERM')
  const escrow = await waitFor('dead lease settled', async () => {
    const e = await getJson<{ status: string, closeReason?: string }>(`${gateway.ready.api}/api/v1/ledger/escrow/${doomed.leaseId}`)
    return e.status === 'closed' ? e : undefined
  }, 20_000)
  assert.is(escrow.closeReason, 'failed')
  assert.is((await runCli(['cancel', keep.leaseId, '--gateway', gw, '--data-dir', userDir])).code, 0)
  for (const n of [provider, gateway]) await n.stop()
})

test('tunnels: a lease that ran out is refused as expired, its container removed and its minute paid; every refusal counted', async () => {
  if (expiring == null) throw new Error('the tunnels test failed before it placed the one-minute lease')
  const { net, alice, provider, lease: b } = expiring
  // Expired: the one-minute lease ended by itself, its container removed and its escrow paid for the minute.
  await new Promise(resolve => setTimeout(resolve, Math.max(0, b.expiresAt - Date.now() + 1000)))
  await refused(alice, provider, b.token, 80, 'expired')
  const expired = await waitFor('expired lease settled', async () => {
    const e = await getJson<{ status: string, closeReason?: string, paidToProvider: string, amount: string }>(`${net.gateway.ready.api}/api/v1/ledger/escrow/${b.leaseId}`)
    return e.status === 'closed' ? e : undefined
  }, 20_000)
  assert.is(expired.closeReason, 'expired')
  assert.ok(BigInt(expired.paidToProvider) > 0n, 'time served is paid')
  assert.is(await leaseContainers(b.leaseId), 0, 'expired container removed')

  const metrics = await getText(`${net.provider.ready.api}/metrics`)
  for (const reason of ['wrong-holder', 'port-not-granted', 'bad-token', 'lease-not-running', 'expired']) {
    assert.ok(metricValue(metrics, 'kaisar_tunnels_refused_total', { reason }) >= 1, `${reason} counted`)
  }
  assert.match(net.provider.stderr(), /tunnel refused/)
  for (const n of [net.provider, net.gateway]) await n.stop()
})

async function requestOverStream (stream: Stream, text: string): Promise<string> {
  stream.send(Buffer.from(text))
  await stream.close()
  let out = ''
  for await (const chunk of stream) out += Buffer.from(chunk.subarray()).toString()
  return out
}

test.run()
