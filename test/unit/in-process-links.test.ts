// In-process links (node/network/in-process-links.ts): nodes of one process that share a
// registry connect in memory under their TCP addresses, unencrypted (or with Noise when asked),
// Yamux as over TCP; a node outside
// the registry still reaches them over TCP (plaintext between two registries, Noise otherwise); closes and resets reach the other end; a stopped
// node's address is no longer served in memory.
import crypto from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { InProcessLinks, tcpAddressKey } from '../../node/network/in-process-links.js'
import { NOISE_AESGCM_PROTOCOL } from '../../node/network/noise-aesgcm.js'
import { echo, handleEcho, startTestNode } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'

const tcp = { transport: 'tcp', websockets: false } as const

async function echoListener (nodes: KaisarLibp2p[], links: InProcessLinks): Promise<KaisarLibp2p> {
  const node = await startTestNode(nodes, { listen: ['/ip4/127.0.0.1/tcp/0'], ...tcp, inProcessLinks: links })
  await handleEcho(node)
  return node
}

/** An echo listener and a dialler sharing `links`, and the listener's address. */
async function echoPair (nodes: KaisarLibp2p[], links: InProcessLinks): Promise<{ listener: KaisarLibp2p, addr: Multiaddr, dialler: KaisarLibp2p }> {
  const listener = await echoListener(nodes, links)
  const addr = listener.getMultiaddrs()[0] as Multiaddr
  return { listener, addr, dialler: await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: links }) }
}

/** One byte, a small message and 3 MiB echo back unchanged from `addr`. */
async function echoesEverySize (dialler: KaisarLibp2p, addr: Multiaddr): Promise<void> {
  for (const size of [1, 900, 3 * 1024 * 1024]) {
    const data = crypto.randomBytes(size)
    assert.ok(Buffer.compare(Buffer.from(await echo(dialler, addr, data)), data) === 0, `${size} bytes changed`)
  }
}

test('tcpAddressKey: host and port of a TCP address, nothing for another kind', () => {
  assert.is(tcpAddressKey(multiaddr('/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWHFrmLWTTDD4NodngSNi8RZ2cqQWeuaHvdsKoK5dxR6gR')), '127.0.0.1:4001')
  assert.is(tcpAddressKey(multiaddr('/ip6/::1/tcp/4001')), '::1:4001')
  assert.is(tcpAddressKey(multiaddr('/ip4/127.0.0.1/udp/4001/quic-v1')), undefined)
  assert.is(tcpAddressKey(multiaddr('/memory/x')), undefined)
})

test('nodes sharing a registry connect in memory, under Noise (noise: true), and every size crosses both ways', async () => {
  const nodes: KaisarLibp2p[] = []
  const links = new InProcessLinks({ noise: true })
  try {
    const listener = await echoListener(nodes, links)
    const addr = listener.getMultiaddrs()[0] as Multiaddr
    assert.ok(links.lookup(tcpAddressKey(addr) as string) != null, 'the listener registered its TCP address')
    const dialler = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: links })
    const conn = await dialler.dial(addr)
    assert.is(links.opened, 1)
    assert.is(conn.encryption, NOISE_AESGCM_PROTOCOL, 'upgraded as a TCP connection is')
    assert.ok(conn.remoteAddr.toString().startsWith(addr.toString()))
    const inbound = await waitFor('the listener sees the link', () => listener.getConnections(dialler.peerId)[0])
    const port = Number(inbound.remoteAddr.getComponents()[1]?.value)
    assert.ok(port >= 32768 && port <= 60999, `an ephemeral-like source port, got ${inbound.remoteAddr.toString()}`)
    await echoesEverySize(dialler, addr)
    // A second dialler on the same listener (the case @libp2p/memory gets wrong: its stream
    // never saw the listener's close).
    const second = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: links })
    const data = crypto.randomBytes(200_000)
    assert.ok(Buffer.compare(Buffer.from(await echo(second, addr, data)), data) === 0)
    assert.is(links.opened, 2)
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test('unencrypted by default: each end knows the other by the registry, bytes and identify cross, a wrong peer id is refused', async () => {
  const nodes: KaisarLibp2p[] = []
  const links = new InProcessLinks()
  try {
    const { listener, addr, dialler } = await echoPair(nodes, links)
    const conn = await dialler.dial(addr)
    assert.is(conn.encryption, 'native', 'no encrypter negotiated')
    assert.ok(conn.remotePeer.equals(listener.peerId))
    const inbound = await waitFor('the listener sees the link, from the dialler', () => listener.getConnections(dialler.peerId)[0])
    assert.is(inbound.encryption, 'native')
    await echoesEverySize(dialler, addr)
    // Identify ran over the link: the dialler learnt the listener's protocols and signed addresses.
    await waitFor('identify', async () => (await dialler.peerStore.get(listener.peerId)).protocols.length > 0 ? true : undefined)
    // An address naming another peer than the one listening there is refused, as Noise would refuse it.
    const stranger = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: new InProcessLinks() })
    const wrong = multiaddr(`${addr.decapsulateCode(421).toString()}/p2p/${stranger.peerId.toString()}`)
    const third = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: links })
    await third.dial(wrong).then(() => { assert.unreachable('dialled a peer id that does not listen there') }, (err: Error) => {
      assert.match(err.message + String((err as Error & { errors?: Error[] }).errors?.map(e => e.message)), /listens there/)
    })
    assert.is(third.getConnections(listener.peerId).length, 0)
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test('a node outside the registry dials over TCP; closes and resets reach the other end', async () => {
  const nodes: KaisarLibp2p[] = []
  const links = new InProcessLinks()
  try {
    const listener = await echoListener(nodes, links)
    const addr = listener.getMultiaddrs()[0] as Multiaddr
    const elsewhere = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: new InProcessLinks() })
    const data = crypto.randomBytes(100_000)
    assert.ok(Buffer.compare(Buffer.from(await echo(elsewhere, addr, data)), data) === 0)
    assert.is(links.opened, 0, 'another process\'s node is dialled over TCP')

    const closer = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: links })
    const closing = await closer.dial(addr)
    await waitFor('the listener sees the link', () => listener.getConnections(closer.peerId).length === 1)
    await closing.close()
    await waitFor('the listener sees the close', () => listener.getConnections(closer.peerId).length === 0, 5_000)

    const aborter = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: links })
    const aborting = await aborter.dial(addr)
    await waitFor('the listener sees the link', () => listener.getConnections(aborter.peerId).length === 1)
    aborting.abort(new Error('test abort'))
    await waitFor('the listener sees the reset', () => listener.getConnections(aborter.peerId).length === 0, 5_000)

    // ... and the other way: the listener closes, the dialler sees it.
    const dialler = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: links })
    await dialler.dial(addr)
    await waitFor('the listener sees the link', () => listener.getConnections(dialler.peerId).length === 1)
    await listener.getConnections(dialler.peerId)[0]?.close()
    await waitFor('the dialler sees the close', () => dialler.getConnections(listener.peerId).length === 0, 5_000)
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test('between registries (the simulator\'s processes) TCP runs plaintext, checked against the dialled peer id; Noise with anyone else', async () => {
  const nodes: KaisarLibp2p[] = []
  try {
    const listener = await echoListener(nodes, new InProcessLinks())
    const addr = listener.getMultiaddrs()[0] as Multiaddr
    const otherProcess = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: new InProcessLinks() })
    const conn = await otherProcess.dial(addr)
    assert.is(conn.encryption, '/plaintext/2.0.0')
    assert.ok(conn.remotePeer.equals(listener.peerId))
    await echoesEverySize(otherProcess, addr)
    // The exchange checks the key the listener sends against the peer id the dial names.
    const stranger = await startTestNode(nodes, { listen: [], ...tcp })
    const wrong = multiaddr(`${addr.decapsulateCode(421).toString()}/p2p/${stranger.peerId.toString()}`)
    const third = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: new InProcessLinks() })
    await third.dial(wrong).then(() => { assert.unreachable('dialled a peer id that does not listen there') }, () => {})
    assert.is(third.getConnections(listener.peerId).length, 0)
    // A node without a registry (a real node) offers only Noise, and gets it.
    const real = await startTestNode(nodes, { listen: [], ...tcp })
    assert.is((await real.dial(addr)).encryption, NOISE_AESGCM_PROTOCOL)
    // --link-noise: Noise on every link, across processes too.
    const noisy = await echoListener(nodes, new InProcessLinks({ noise: true }))
    const noisyDialler = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: new InProcessLinks({ noise: true }) })
    assert.is((await noisyDialler.dial(noisy.getMultiaddrs()[0] as Multiaddr)).encryption, NOISE_AESGCM_PROTOCOL)
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test('a stopped node\'s address leaves the registry, and its open links close', async () => {
  const nodes: KaisarLibp2p[] = []
  const links = new InProcessLinks()
  try {
    const { listener, addr, dialler } = await echoPair(nodes, links)
    await dialler.dial(addr)
    await listener.stop()
    assert.is(links.lookup(tcpAddressKey(addr) as string), undefined)
    await waitFor('the dialler sees the link close', () => dialler.getConnections(listener.peerId).length === 0, 5_000)
    // Nothing listens there now: the dial fails (over TCP, refused) instead of hanging.
    const failed = await dialler.dial(addr, { signal: AbortSignal.timeout(5_000) }).then(() => false, () => true)
    assert.ok(failed, 'a dial to a stopped node succeeded')
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test.run()
