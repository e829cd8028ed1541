// Link trunks (node/network/link-trunk.ts): two registries joined by one loopback socket, as the
// simulator joins its processes. A node of one dials a node of the other through the trunk
// (unencrypted, checked against the dialled peer id), every size crosses both ways, closes and
// resets reach the other end, a stopped node's address is withdrawn, a closed trunk ends its
// links and dials go back to TCP, and a frame our own peer process could not have sent breaks
// the trunk rather than a link.
import crypto from 'node:crypto'
import net from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { InProcessLinks, tcpAddressKey } from '../../node/network/in-process-links.js'
import { FRAME, type LinkTrunk } from '../../node/network/link-trunk.js'
import { echo, handleEcho, startTestNode } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'

const tcp = { transport: 'tcp', websockets: false } as const

/** Two registries joined by a trunk over a loopback socket: [A's side (it connected), B's side]. */
async function joined (a: InProcessLinks, b: InProcessLinks): Promise<{ trunks: [LinkTrunk, LinkTrunk], server: net.Server }> {
  const server = net.createServer()
  const accepted = new Promise<LinkTrunk>(resolve => { server.once('connection', socket => { resolve(b.attach(socket, false)) }) })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as net.AddressInfo).port
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  return { trunks: [a.attach(socket, true), await accepted], server }
}

async function echoListener (nodes: KaisarLibp2p[], links: InProcessLinks): Promise<{ node: KaisarLibp2p, addr: Multiaddr, key: string }> {
  const node = await startTestNode(nodes, { listen: ['/ip4/127.0.0.1/tcp/0'], ...tcp, inProcessLinks: links })
  await handleEcho(node)
  const addr = node.getMultiaddrs()[0] as Multiaddr
  return { node, addr, key: tcpAddressKey(addr) as string }
}

async function echoesEverySize (dialler: KaisarLibp2p, addr: Multiaddr): Promise<void> {
  for (const size of [1, 900, 3 * 1024 * 1024]) {
    const data = crypto.randomBytes(size)
    assert.ok(Buffer.compare(Buffer.from(await echo(dialler, addr, data)), data) === 0, `${size} bytes changed`)
  }
}

test('nodes of two processes connect through one trunk, both ways, and every size crosses', async () => {
  const nodes: KaisarLibp2p[] = []
  const a = new InProcessLinks(); const b = new InProcessLinks()
  const { trunks, server } = await joined(a, b)
  try {
    // Started before and after the trunk: both are announced to the other side.
    const la = await echoListener(nodes, a)
    const lb = await echoListener(nodes, b)
    await waitFor('B hears where A\'s node listens', () => b.lookupTrunked(la.key))
    await waitFor('A hears where B\'s node listens', () => a.lookupTrunked(lb.key))
    assert.ok(b.lookupTrunked(la.key)?.peer.equals(la.node.peerId))
    const db = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: b })
    const conn = await db.dial(la.addr)
    assert.is(conn.encryption, 'native', 'no encrypter: both ends are the simulator\'s nodes')
    assert.ok(conn.remotePeer.equals(la.node.peerId))
    await echoesEverySize(db, la.addr)
    await echoesEverySize(la.node, lb.addr)
    assert.is(trunks[1].opened, 2, 'B\'s side carried both links')
    assert.is(a.opened + b.opened, 0, 'no in-memory link within a process here')
    const inbound = await waitFor('A\'s node sees the link', () => la.node.getConnections(db.peerId)[0])
    assert.is(inbound.encryption, 'native')
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    a.closeTrunks(); b.closeTrunks(); server.close()
  }
})

test('a close and a reset reach the other process; a closed trunk ends its links and dials go back to TCP', async () => {
  const nodes: KaisarLibp2p[] = []
  const a = new InProcessLinks(); const b = new InProcessLinks()
  const { trunks, server } = await joined(a, b)
  try {
    const la = await echoListener(nodes, a)
    await waitFor('B hears A\'s node', () => b.lookupTrunked(la.key))
    const db = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: b })
    await (await db.dial(la.addr)).close()
    await waitFor('the close reached A', () => la.node.getConnections(db.peerId).length === 0)
    const conn = await db.dial(la.addr)
    conn.abort(new Error('test reset'))
    await waitFor('the reset reached A', () => la.node.getConnections(db.peerId).length === 0)
    await db.dial(la.addr)
    await waitFor('A sees the third link', () => la.node.getConnections(db.peerId).length === 1)
    assert.is(trunks[0].open, 1, 'closed and reset channels are forgotten')
    trunks[1].close()
    await waitFor('A\'s end closed with the trunk', () => la.node.getConnections(db.peerId).length === 0)
    await waitFor('B\'s end closed with the trunk', () => db.getConnections(la.node.peerId).length === 0)
    assert.is(b.lookupTrunked(la.key), undefined, 'nothing is routed to a closed trunk')
    const overTcp = await db.dial(la.addr)
    assert.is(overTcp.encryption, '/plaintext/2.0.0', 'a TCP connection between the simulator\'s processes')
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    a.closeTrunks(); b.closeTrunks(); server.close()
  }
})

test('a dial naming another peer is refused; a stopped node\'s address is withdrawn', async () => {
  const nodes: KaisarLibp2p[] = []
  const a = new InProcessLinks(); const b = new InProcessLinks()
  const { server } = await joined(a, b)
  try {
    const la = await echoListener(nodes, a)
    await waitFor('B hears A\'s node', () => b.lookupTrunked(la.key))
    const db = await startTestNode(nodes, { listen: [], ...tcp, inProcessLinks: b })
    const stranger = await startTestNode(nodes, { listen: [], ...tcp })
    const wrong = multiaddr(`${la.addr.decapsulateCode(421).toString()}/p2p/${stranger.peerId.toString()}`)
    await db.dial(wrong).then(() => { assert.unreachable('dialled a peer id that does not listen there') }, (err: Error) => {
      assert.match(err.message, /listens there, not/)
    })
    await la.node.stop()
    await waitFor('A withdrew the stopped node\'s address', () => b.lookupTrunked(la.key) === undefined)
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    a.closeTrunks(); b.closeTrunks(); server.close()
  }
})

test('an OPEN for an address nobody listens at is reset; a frame too long breaks the trunk', async () => {
  const a = new InProcessLinks()
  const server = net.createServer()
  const accepted = new Promise<LinkTrunk>(resolve => { server.once('connection', s => { resolve(a.attach(s, false)) }) })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  const raw = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  try {
    await accepted
    const received: Buffer[] = []
    raw.on('data', (d: Buffer) => { received.push(d) })
    const frame = (type: number, channel: number, body: Buffer): Buffer => {
      const h = Buffer.alloc(9); h.writeUInt32BE(5 + body.length, 0); h.writeUInt8(type, 4); h.writeUInt32BE(channel, 5)
      return Buffer.concat([h, body])
    }
    // The connecting side's channels are odd.
    raw.write(frame(FRAME.OPEN, 1, Buffer.from(JSON.stringify({ addr: '/ip4/127.0.0.1/tcp/9', dialer: '12D3KooWHFrmLWTTDD4NodngSNi8RZ2cqQWeuaHvdsKoK5dxR6gR' }))))
    const reply = await waitFor('a RESET for channel 1', () => {
      const all = Buffer.concat(received)
      return all.length >= 9 ? all : undefined
    })
    assert.equal([reply.readUInt32BE(0), reply.readUInt8(4), reply.readUInt32BE(5)], [5, FRAME.RESET, 1])
    const closed = new Promise<void>(resolve => { raw.once('close', () => { resolve() }) })
    raw.on('error', () => {})
    raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff, FRAME.DATA, 0, 0, 0, 1]))
    await closed
  } finally {
    raw.destroy(); server.close()
  }
})

test.run()
