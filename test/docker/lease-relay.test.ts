// Issue 5, done-when 2: the provider has no address the user can dial (it listens only
// through the gateway's relay). The order goes user → gateway (circuit relay v2) → provider;
// the GET and a 100 MiB transfer go through the gateway's splice port (the gateway pairs the
// user's and the provider's sockets and copies bytes, limits lifted for the lease holder
// only), and the Noise session is end to end between user and provider: the gateway forwards
// ciphertext (test/unit/splice.test.ts taps the gateway's sockets to show it). Then the same
// 100 MiB through `connect`'s default, a dedicated tunnel per connection (its own splice), and a
// port the token does not open refused by the provider on that path.
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { NOISE_AESGCM_PROTOCOL, PROTOCOLS } from '../../protocols/ids.js'
import { sendWithBackpressure } from '../../node/network/streams.js'
import { forwardPort, knowProvider, openTunnel } from '../../node/user/lease-client.js'
import { UserNode } from '../../node/user/user-node.js'
import { killAll, loopbackArgs, runCli, startNode } from '../helpers/cli.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import { getJson, waitFor } from '../helpers/wait.js'
import { TestEngine } from './engine.js'
import type { NodeStatus } from '../../node/node.js'
import type { Stream } from '@libp2p/interface'

const engine = new TestEngine()
let user: UserNode | undefined
test.before(async () => { await engine.start() })
test.after(async () => {
  await user?.close().catch(() => {})
  await killAll()
  if (engine.running != null) {
    const d = engine.dockerode()
    for (const c of await d.listContainers({ all: true, filters: { label: ['kaisar.managed=true'] } })) await d.getContainer(c.Id).remove({ force: true }).catch(() => {})
  }
  await engine.stop()
  await removeTempDirs()
})

const MiB = 2 ** 20

/** Sends `bytes` of random data through an echo tunnel and checks every byte comes back. */
async function echoThrough (stream: Stream, bytes: number): Promise<void> {
  const sent = createHash('sha256')
  const got = createHash('sha256')
  let received = 0
  const reading = (async () => {
    for await (const chunk of stream) { const b = chunk.subarray(); got.update(b); received += b.byteLength; if (received >= bytes) break }
  })()
  const block = randomBytes(256 * 1024)
  for (let off = 0; off < bytes; off += block.byteLength) {
    sent.update(block)
    await sendWithBackpressure(stream, block) // rejects if the stream closes while full
  }
  await reading
  await stream.close().catch(() => {})
  assert.is(received, bytes)
  assert.is(got.digest('hex'), sent.digest('hex'), 'byte-exact')
}

/** The same through a local port (`connect`): `bytes` of random data to the echo, every byte back. */
async function echoThroughSocket (port: number, bytes: number): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
  const sent = createHash('sha256')
  const got = createHash('sha256')
  let received = 0
  socket.on('data', (d: Buffer) => { got.update(d); received += d.byteLength })
  const ended = new Promise<void>((resolve, reject) => { socket.once('end', () => { resolve() }); socket.once('error', reject) })
  const block = randomBytes(256 * 1024)
  for (let off = 0; off < bytes; off += block.byteLength) {
    sent.update(block)
    if (!socket.write(block)) await new Promise(resolve => socket.once('drain', resolve))
  }
  socket.end()
  await ended
  socket.destroy()
  assert.is(received, bytes)
  assert.is(got.digest('hex'), sent.digest('hex'), 'byte-exact')
}

test('a relayed provider serves a lease: order, GET and 100 MiB through the gateway, Noise end to end', async () => {
  const env = { DOCKER_HOST: engine.ready().dockerHost }
  const gateway = await startNode(loopbackArgs('gateway', await tempDir()))
  const gw = gateway.ready.addresses[0] as string
  // No TCP listener at all: the provider is reachable only through its reservation on the gateway.
  const providerArgs = loopbackArgs('provider', await tempDir(), ['--bootstrap', gw, '--containers', 'docker']).map(a => a === '/ip4/127.0.0.1/tcp/0' ? '/p2p-circuit' : a)
  const provider = await startNode(providerArgs, { env })
  const status = await waitFor('provider relayed, announced, registered', async () => {
    const s = await getJson<NodeStatus>(`${provider.ready.api}/api/v1/status`)
    return s.addresses.length > 0 && s.addresses.every(a => a.includes('/p2p-circuit')) && s.provider?.registered === true && s.provider.capabilitiesPending === 0 ? s : undefined
  }, 60_000, 250)
  assert.ok(status.addresses.every(a => a.includes(`/p2p/${gateway.ready.peerId}/p2p-circuit`)), 'only relay addresses')

  const userDir = await tempDir()
  const r = await runCli(['order', '--image', 'kaisar/test-http:1', '--port', '80', '--port', '7', '--cpus', '0.5', '--memory', '128m', '--hours', '1', '--json', '--gateway', gw, '--data-dir', userDir], { timeoutMs: 120_000 })
  assert.is(r.code, 0, r.stderr)
  const placed = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { leaseId: string, token: string }

  user = await UserNode.open({ dataDir: userDir, gateways: [gw], chain: 'local' })
  const lease = await user.book.get(placed.leaseId)
  if (lease == null) throw new Error('the order did not book the lease')
  assert.ok(lease.addresses.every(a => a.includes('/p2p-circuit')), 'the user knows only relay addresses')
  const peer = await knowProvider(user.libp2p, lease.provider, lease.addresses)

  const web = await openTunnel(user.libp2p, peer, placed.token, 80, { signal: AbortSignal.timeout(15_000) })
  web.send(Buffer.from('GET / HTTP/1.0\r\n\r\n'))
  await web.close()
  let page = ''
  for await (const chunk of web) page += Buffer.from(chunk.subarray()).toString()
  assert.match(page, /kaisar test-http:1 ok/)

  // Two connections to the provider, both through the gateway, both authenticated and encrypted
  // end to end with the provider: the relayed one (the order) and the spliced one (the tunnels).
  const conns = user.libp2p.getConnections(peer)
  const gwPort = Number(/\/tcp\/(\d+)/.exec(gw)?.[1])
  const spliced = conns.find(c => c.direct)
  if (spliced == null) {
    const splices = (await (await fetch(`${gateway.ready.api}/metrics`)).text()).split('\n').filter(l => l.startsWith('kaisar_splices'))
    assert.unreachable(`no spliced connection: ${conns.map(c => c.remoteAddr.toString()).join(', ')}; gateway: ${splices.join('; ')}\n${gateway.stderr().split('\n').filter(l => l.includes('splice')).slice(-5).join('\n')}`)
    return
  }
  assert.match(spliced.remoteAddr.toString(), /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//, 'to the gateway\'s host')
  assert.is.not(Number(/\/tcp\/(\d+)/.exec(spliced.remoteAddr.toString())?.[1]), gwPort, 'on its splice port, not its libp2p port')
  for (const conn of conns) {
    if (conn !== spliced) assert.match(conn.remoteAddr.toString(), /\/p2p-circuit/, 'the other one is relayed')
    assert.is(conn.remotePeer.toString(), provider.ready.peerId, 'Noise authenticated the provider, not the gateway')
    assert.is(conn.encryption, NOISE_AESGCM_PROTOCOL, 'Noise (its AES-256-GCM variant) end to end')
    assert.is(conn.limits, undefined, 'the gateway lifted its limits for the lease holder')
  }
  const metric = async (name: string): Promise<number> => Number((await (await fetch(`${gateway.ready.api}/metrics`)).text()).split('\n').find(l => l.startsWith(`${name} `))?.split(' ')[1])
  assert.is(await metric('kaisar_splices_opened_total'), 1, 'the gateway paired one splice')

  // 100 MiB through the gateway: far past circuit relay v2's default 128 KiB limit.
  const echo = await openTunnel(user.libp2p, peer, placed.token, 7, { signal: AbortSignal.timeout(15_000) })
  assert.ok(spliced.streams.some(s => s.protocol === PROTOCOLS.tunnel && s.status === 'open'), 'the echo runs on the spliced connection')
  assert.not.ok(conns.some(c => c !== spliced && c.streams.some(s => s.protocol === PROTOCOLS.tunnel)), 'not on the relayed one')
  try {
    await echoThrough(echo, 100 * MiB)
  } catch (err) {
    throw new Error(`${(err as Error).message}\nprovider log:\n${provider.stderr().split('\n').slice(-15).join('\n')}\ngateway log:\n${gateway.stderr().split('\n').slice(-10).join('\n')}`)
  }

  // `connect`'s default through a gateway: each local connection its own dedicated tunnel (a
  // second splice), the provider checking the same lease token on it.
  const providerMetric = async (name: string): Promise<number> => Number((await (await fetch(`${provider.ready.api}/metrics`)).text()).split('\n').find(l => l.startsWith(`${name} `) || l.startsWith(`${name}{`))?.split(' ').pop() ?? 0)
  const local = await forwardPort(user.libp2p, peer, placed.token, { localHost: '127.0.0.1', localPort: 0, containerPort: 7 }, user.log)
  try {
    await echoThroughSocket((local.address() as net.AddressInfo).port, 100 * MiB)
    // The stream path makes no splice; `connect` makes one per dedicated tunnel (its spare, then the next spare).
    assert.ok(await metric('kaisar_splices_opened_total') >= 2, 'the dedicated tunnel\'s own splice')
  } finally {
    local.close()
  }
  const closedPort = await forwardPort(user.libp2p, peer, placed.token, { localHost: '127.0.0.1', localPort: 0, containerPort: 22 }, user.log)
  try {
    const refusedBefore = await providerMetric('kaisar_tunnels_refused_total{reason="port-not-granted"}')
    const socket = net.connect({ host: '127.0.0.1', port: (closedPort.address() as net.AddressInfo).port })
    socket.on('error', () => {})
    let got = 0
    socket.on('data', (d: Buffer) => { got += d.byteLength })
    await new Promise(resolve => socket.once('close', resolve))
    assert.is(got, 0, 'a port the token does not open gives nothing')
    assert.is(await providerMetric('kaisar_tunnels_refused_total{reason="port-not-granted"}'), refusedBefore + 1, 'refused by the provider, counted')
  } finally {
    closedPort.close()
  }

  await user.close()
  user = undefined
  assert.is((await runCli(['cancel', placed.leaseId, '--gateway', gw, '--data-dir', userDir])).code, 0)
  for (const n of [provider, gateway]) await n.stop()
})

test.run()
