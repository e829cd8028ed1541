// Spliced relaying (protocols/splice/messages.ts), three real libp2p nodes on loopback in one
// process: a gateway (circuit relay server + splice relay, RelayPolicy as in production), a
// provider that listens only through the gateway's relay, and a user.
//  - A peer the provider granted nothing gets no splice (and keeps the circuit relay).
//  - A lease holder gets a direct connection to the provider whose bytes the gateway copies
//    without reading them: Noise authenticated the provider across the splice, and a tap on the
//    gateway's splice sockets never sees the plaintext that went through.
//  - A dedicated tunnel (one spliced socket per TCP connection) authenticates the holder to the
//    provider and carries ciphertext only through the gateway; a refusal reaches the user.
//  - Revoking the grant closes the splice; a socket with an unknown ticket is dropped.
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { multiaddr } from '@multiformats/multiaddr'
import { NOISE_AESGCM_PROTOCOL, PROTOCOLS } from '../../protocols/ids.js'
import { NodeMetrics } from '../../node/metrics/registry.js'
import { registerReqResp, request, RemoteError } from '../../node/network/reqresp.js'
import { spliceGrantSchema, spliceOfferSchema } from '../../protocols/splice/messages.js'
import { sendWithBackpressure } from '../../node/network/streams.js'
import { RelayPolicy } from '../../node/roles/gateway/relay-policy.js'
import { pipeSealed } from '../../node/network/sealed-pipe.js'
import { TunnelRefusedError } from '../../node/errors.js'
import { socketPair } from '../helpers/tunnel.js'
import { SpliceRelay } from '../../node/roles/gateway/splice-relay.js'
import { RelayGrants } from '../../node/roles/provider/relay-grants.js'
import { benchNode } from '../../bench/lib.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { LeaseRecord } from '../../node/roles/provider/lease-store.js'
import type { Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const silent = pino({ level: 'silent' })
const ECHO = '/test/echo/1.0.0'
let gateway: KaisarLibp2p, provider: KaisarLibp2p, user: KaisarLibp2p, stranger: KaisarLibp2p
let relay: SpliceRelay, grants: RelayGrants, policy: RelayPolicy
const metrics = new NodeMetrics()

/** Bytes the gateway's splice sockets wrote (a tap on net.Socket#write, filtered by local port). */
const tapped: Buffer[] = []
const write = net.Socket.prototype.write
net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
  if (relay != null && this.localPort === relay.port && Buffer.isBuffer(chunk)) tapped.push(Buffer.from(chunk))
  return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest)
} as typeof write

const lease = (userPeer: string, leaseId = 'lease-1'): LeaseRecord => ({ userPeer, leaseId, expiresAt: Date.now() + 3_600_000 }) as unknown as LeaseRecord
/** The provider's running leases, as RelayGrants sees them. */
const running: LeaseRecord[] = []
const counter = async (name: string, labels = ''): Promise<number> => {
  const text = await metrics.registry.metrics()
  const line = text.split('\n').find(l => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)))
  return line == null ? 0 : Number(line.split(' ').pop())
}
async function until<T> (what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v != null && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

test.before(async () => {
  gateway = await benchNode({ relayServer: true, metrics: false })
  policy = new RelayPolicy(gateway, silent)
  await policy.start()
  relay = new SpliceRelay({ libp2p: gateway, policy, logger: silent, metrics }, { host: '127.0.0.1', port: 0, ticketTimeoutMs: 1_000 })
  await relay.start()
  const gw = gateway.getMultiaddrs()[0]?.toString() as string
  provider = await benchNode({ listen: [`${gw}/p2p-circuit`], metrics: false })
  grants = new RelayGrants(provider, () => running, silent)
  await grants.start()
  await provider.handle(ECHO, async stream => { for await (const chunk of stream) await sendWithBackpressure(stream, chunk.subarray()); await stream.close() })
  const circuit = await until('relay reservation', () => provider.getMultiaddrs().find(a => a.toString().includes('/p2p-circuit')))
  user = await benchNode({ metrics: false })
  stranger = await benchNode({ metrics: false })
  for (const n of [user, stranger]) await n.dial(multiaddr(circuit.toString()))
})

test.after(async () => {
  net.Socket.prototype.write = write
  await grants?.stop()
  await relay?.stop()
  for (const n of [stranger, user, provider, gateway]) await n?.stop()
})

test('a peer the provider granted nothing gets no splice, and keeps the circuit relay', async () => {
  const conn = await stranger.services.splice?.connect(provider.peerId)
  assert.is(conn, undefined)
  assert.is(await counter('kaisar_splices_refused_total', '{reason="not-lease-holder"}'), 1)
  assert.ok(stranger.getConnections(provider.peerId).every(c => c.remoteAddr.toString().includes('/p2p-circuit')))
  assert.equal(stranger.services.splice?.pathTo(provider.peerId), { path: 'relayed', gateway: gateway.peerId.toString() })
})

test('a lease holder gets a direct connection the gateway only copies bytes for', async () => {
  grants.grant(lease(user.peerId.toString()))
  await until('the grant at the gateway', () => policy.isAllowed(user.peerId.toString(), provider.peerId.toString()))
  const conn = await until('splice', async () => await user.services.splice?.connect(provider.peerId))
  assert.ok(conn.direct, 'not a /p2p-circuit connection')
  assert.is(conn.remotePeer.toString(), provider.peerId.toString(), 'Noise authenticated the provider, across the gateway')
  assert.is(conn.encryption, NOISE_AESGCM_PROTOCOL, 'Noise (its AES-256-GCM variant) end to end')
  assert.is(conn.limits, undefined)
  assert.match(conn.remoteAddr.toString(), new RegExp(`/tcp/${relay.port}/p2p/${provider.peerId.toString()}$`), 'bytes go to the gateway\'s splice port')
  assert.is(await counter('kaisar_splices_opened_total'), 1)
  assert.equal(user.services.splice?.pathTo(provider.peerId), { path: 'spliced', gateway: gateway.peerId.toString() }, 'what `connect` tells the user')
  assert.equal(relay.active(), [{ holder: user.peerId.toString(), provider: provider.peerId.toString() }])

  // libp2p opens the next streams on it, not on the relayed connection.
  const stream = await user.dialProtocol(provider.peerId, ECHO)
  const marker = Buffer.from(`plaintext-marker-${randomBytes(8).toString('hex')}`)
  const block = Buffer.concat(Array.from({ length: 4096 }, () => marker))
  let echoed = 0
  const reading = (async () => { for await (const chunk of stream) { echoed += chunk.byteLength; if (echoed >= 8 * block.byteLength) break } })()
  for (let i = 0; i < 8; i++) await sendWithBackpressure(stream, block)
  await reading
  await stream.close()
  assert.is(echoed, 8 * block.byteLength)
  const seen = Buffer.concat(tapped)
  assert.ok(seen.byteLength >= 2 * 8 * block.byteLength, `the splice carried the echo both ways (${seen.byteLength} bytes)`)
  assert.is(seen.indexOf(marker), -1, 'the gateway never wrote the plaintext')
})

// Dedicated tunnels (protocols/tunnel/dedicated.ts): one spliced socket per TCP connection.
/** The provider's dedicated tunnels: each header seen, and its answer (accept to `targetPort`, or refuse). */
const headers: Array<{ peer: string, token: string, port: number }> = []
let answer: { targetPort: number } | { refuse: string } = { refuse: 'unset' }
/** A local socket pair: `app` is the application's end, `plain` the one a tunnel pipes. */
async function appPair (): Promise<{ app: net.Socket, plain: net.Socket, close: () => void }> {
  const { client, accepted, close } = await socketPair()
  return { app: client, plain: accepted, close }
}

test('a dedicated tunnel: the provider learns the holder from the handshake, the gateway copies ciphertext only', async () => {
  const echo = net.createServer({ allowHalfOpen: true }, s => { s.on('error', () => {}); s.pipe(s) })
  await new Promise<void>(resolve => echo.listen(0, '127.0.0.1', resolve))
  answer = { targetPort: (echo.address() as net.AddressInfo).port }
  provider.services.splice?.handleDedicatedTunnels(async t => {
    headers.push({ peer: t.peer.toString(), token: t.token, port: t.port })
    if ('refuse' in answer) { await t.refuse(answer.refuse, 'refused by the test'); return }
    await t.accept(net.connect({ host: '127.0.0.1', port: answer.targetPort, allowHalfOpen: true }))
  })
  const pair = await appPair()
  try {
    const opened = Number(await counter('kaisar_splices_opened_total'))
    tapped.length = 0
    const tunnel = await user.services.splice?.openDedicatedTunnel(provider.peerId, 'a-token', 8080)
    assert.ok(tunnel != null, 'the gateway spliced a dedicated tunnel')
    assert.equal(headers, [{ peer: user.peerId.toString(), token: 'a-token', port: 8080 }], 'the header, from the peer Noise authenticated')
    assert.is(await counter('kaisar_splices_opened_total'), opened + 1)
    const piped = pipeSealed(pair.plain, tunnel.socket, tunnel.keys, { leftover: tunnel.leftover })
    const marker = Buffer.from(`plaintext-marker-${randomBytes(8).toString('hex')}`)
    const block = Buffer.concat(Array.from({ length: 8192 }, () => marker))
    const back: Buffer[] = []
    pair.app.on('data', (d: Buffer) => back.push(d))
    const ended = new Promise(resolve => pair.app.once('end', resolve))
    pair.app.end(block)
    await ended
    assert.ok(Buffer.concat(back).equals(block), 'echoed exactly, then a clean end')
    const result = await piped
    assert.is(result.error, undefined)
    const seen = Buffer.concat(tapped)
    assert.ok(seen.byteLength >= 2 * block.byteLength, `the splice carried the echo both ways (${seen.byteLength} bytes)`)
    assert.is(seen.indexOf(marker), -1, 'the gateway never wrote the plaintext')
  } finally {
    pair.close()
    echo.close()
  }
})

test('a dedicated tunnel the provider refuses throws its code; one to a provider that granted nothing is not spliced', async () => {
  answer = { refuse: 'bad-token' }
  try {
    await user.services.splice?.openDedicatedTunnel(provider.peerId, 'forged', 80)
    assert.unreachable('the refusal must be thrown')
  } catch (err) {
    assert.instance(err, TunnelRefusedError)
    assert.is((err as TunnelRefusedError).code, 'bad-token')
  }
  assert.is(await stranger.services.splice?.openDedicatedTunnel(provider.peerId, 'any', 80), undefined, 'no grant, no splice (the caller falls back to a stream)')
})

test('spares: a tunnel handshaken now opens later; the provider holds at most four per user', async () => {
  answer = { targetPort: 9 } // a refused connect is fine: only the header matters here
  const spares = await Promise.all(Array.from({ length: 5 }, async () => await user.services.splice?.prepareDedicatedTunnel(provider.peerId)))
  assert.ok(spares.every(t => t != null), 'five handshakes completed on the user\'s side')
  await until('the fifth closed by the provider', () => spares.filter(t => t?.usable === false).length === 1 ? true : undefined)
  assert.is(spares.filter(t => t?.usable === true).length, 4)
  const before = headers.length
  await new Promise(resolve => setTimeout(resolve, 200)) // the header may come any time later
  answer = { refuse: 'later' }
  const usable = spares.find(t => t?.usable === true)
  try {
    await usable?.open('late-token', 1)
    assert.unreachable('the test refuses it')
  } catch (err) {
    assert.is((err as TunnelRefusedError).code, 'later', 'the provider read the late header and answered')
  }
  assert.equal(headers.slice(before), [{ peer: user.peerId.toString(), token: 'late-token', port: 1 }])
  for (const t of spares) t?.close()
})

test('revoking the grant closes the splice, but not while another lease of the same holder runs', async () => {
  const conn = user.getConnections(provider.peerId).find(c => c.direct) as Connection
  const holder = user.peerId.toString()
  // Grants are per holder: the end of one lease leaves the access of another running one.
  running.push(lease(holder, 'lease-2'))
  grants.revoke(lease(holder, 'lease-1'))
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.ok(policy.isAllowed(holder, provider.peerId.toString()), 'the other lease keeps the grant')
  assert.is(conn.status, 'open')
  running.length = 0
  grants.revoke(lease(holder, 'lease-2'))
  await until('splice closed', () => conn.status === 'closed' && relay.active().length === 0)
  assert.is(await counter('kaisar_splices_active'), 0)
})

test('the splice port drops a socket with an unknown ticket; the protocol refuses garbage', async () => {
  const socket = net.connect({ host: '127.0.0.1', port: relay.port })
  socket.write(randomBytes(32))
  await new Promise(resolve => socket.once('close', resolve))
  assert.is(await counter('kaisar_splices_refused_total', '{reason="bad-ticket"}'), 1)
  try {
    await request(stranger, gateway.peerId, PROTOCOLS.splice, { provider: 42 })
    assert.unreachable('a malformed request must be refused')
  } catch (err) {
    assert.instance(err, RemoteError)
    assert.is((err as RemoteError).code, 'INVALID')
  }
})

// The splice port itself, with a stand-in provider that takes offers but connects nothing: the
// test holds both tickets and plays both ends.
async function standIn (): Promise<{ relay: SpliceRelay, gateway: KaisarLibp2p, provider: KaisarLibp2p, offers: string[], revoke: () => void, stop: () => Promise<void> }> {
  const gw = await benchNode({ metrics: false })
  const prov = await benchNode({ metrics: false })
  const offers: string[] = []
  await registerReqResp(prov, { protocol: PROTOCOLS.spliceOffer, schema: spliceOfferSchema, logger: silent, handle: async offer => { offers.push(offer.ticket); return { ok: true } } })
  await prov.dial(gw.getMultiaddrs()[0] as Multiaddr)
  let onRevoke: ((h: string, p: string) => void) | undefined
  const granted = { isAllowed: () => true, onRevoke: (l: (h: string, p: string) => void) => { onRevoke = l } }
  const relay2 = new SpliceRelay({ libp2p: gw, policy: granted, logger: silent, metrics: new NodeMetrics() }, { host: '127.0.0.1', port: 0, ticketTimeoutMs: 2_000 })
  await relay2.start()
  return {
    relay: relay2,
    gateway: gw,
    provider: prov,
    offers,
    revoke: () => { granted.isAllowed = () => false; onRevoke?.(user.peerId.toString(), prov.peerId.toString()) },
    stop: async () => { await relay2.stop(); await prov.stop(); await gw.stop() }
  }
}

async function grantVia (offers: string[], gwPeer: KaisarLibp2p['peerId'], provider: string): Promise<{ holder: string, provider: string }> {
  const grant = spliceGrantSchema.parse(await request(user, gwPeer, PROTOCOLS.splice, { provider }))
  return { holder: grant.ticket, provider: offers[offers.length - 1] as string }
}

/** A socket to the splice port that has sent `ticket`; half-open ones keep writing after the other side's FIN. */
async function socketWith (port: number, ticket: string, allowHalfOpen = false): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen })
  await new Promise(resolve => socket.once('connect', resolve))
  socket.write(Buffer.from(ticket, 'hex'))
  return socket
}
const closed = async (socket: net.Socket): Promise<void> => { if (!socket.destroyed) await new Promise(resolve => socket.once('close', resolve)) }
const readAll = async (socket: net.Socket): Promise<string> => await new Promise(resolve => { let got = ''; socket.on('data', d => { got += String(d) }); socket.once('end', () => { resolve(got) }) })

test('splice port: a half-close passes through while the other direction keeps flowing', async () => {
  const s = await standIn()
  try {
    const gwPeer = s.gateway.peerId
    const provPeer = s.provider.peerId.toString()
    await user.dial(s.gateway.getMultiaddrs()[0] as Multiaddr)
    const t = await grantVia(s.offers, gwPeer, provPeer)
    const a = await socketWith(s.relay.port, t.holder, true)
    const b = await socketWith(s.relay.port, t.provider, true)
    const bGot = readAll(b)
    a.end('request')
    assert.is(await bGot, 'request', 'the holder\'s bytes and its FIN reached the provider')
    const aGot = readAll(a)
    b.end('a long answer after the request was complete')
    assert.is(await aGot, 'a long answer after the request was complete', 'the other direction still ran after the first FIN')
    await Promise.all([closed(a), closed(b)])
    await until('splice finished', () => s.relay.active().length === 0)

    // A side that leaves before its partner arrives ends the session: the partner's ticket is void.
    const t2 = await grantVia(s.offers, gwPeer, provPeer)
    const early = await socketWith(s.relay.port, t2.holder)
    await new Promise(resolve => setTimeout(resolve, 100))
    early.destroy()
    await new Promise(resolve => setTimeout(resolve, 100))
    const late = await socketWith(s.relay.port, t2.provider)
    await closed(late)
    assert.is(s.relay.active().length, 0)

    // Revoked while pending: neither ticket opens anything.
    const t3 = await grantVia(s.offers, gwPeer, provPeer)
    s.revoke()
    const x = await socketWith(s.relay.port, t3.holder)
    const y = await socketWith(s.relay.port, t3.provider)
    await Promise.all([closed(x), closed(y)])
    assert.is(s.relay.active().length, 0)
  } finally {
    await s.stop()
  }
})

test.run()
