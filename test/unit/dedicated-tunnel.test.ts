// node/network/splice/dedicated-tunnel.ts on its own: both ends over one loopback socket pair (no
// gateway between; test/unit/splice.test.ts runs it through one). The handshake authenticates each
// side to the other, the header may come long after the handshake, and a spare whose header never
// comes is closed without a reply (a reply would read as a refusal of the user's next connection).
import net from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { noise } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DEDICATED_TUNNEL_PROLOGUE } from '../../protocols/tunnel/dedicated.js'
import { aesGcmCrypto } from '../../node/network/noise-aesgcm.js'
import { answerDedicatedTunnel, handshakeDedicatedTunnel, type InboundDedicatedTunnel } from '../../node/network/splice/dedicated-tunnel.js'
import { pipeSealed } from '../../node/network/sealed-pipe.js'
import { socketPair } from '../helpers/tunnel.js'
import type { ConnectionEncrypter, PeerId, Upgrader } from '@libp2p/interface'

async function party (): Promise<{ peerId: PeerId, encrypter: ConnectionEncrypter }> {
  const privateKey = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(privateKey)
  // The upgrader is only asked for stream muxers, which a dedicated tunnel skips.
  const encrypter = noise({ crypto: aesGcmCrypto(defaultCrypto), prologueBytes: DEDICATED_TUNNEL_PROLOGUE })({ peerId, privateKey, logger: defaultLogger(), upgrader: {} as unknown as Upgrader })
  return { peerId, encrypter }
}

/** A connected loopback pair: the user's socket and the provider's. */
async function pair (): Promise<{ user: net.Socket, provider: net.Socket, close: () => void }> {
  const { client, accepted, close } = await socketPair()
  return { user: client, provider: accepted, close }
}

const at = multiaddr('/ip4/127.0.0.1/tcp/1')
const log = defaultLogger().forComponent('test')

test('the header after a pause, both peers authenticated, then bytes both ways with a clean end', async () => {
  const [u, p] = [await party(), await party()]
  const sockets = await pair()
  try {
    const answering = answerDedicatedTunnel(p.encrypter, { socket: sockets.provider, remoteAddr: at, log }, {
      handshakeSignal: AbortSignal.timeout(5_000), headerSignal: () => AbortSignal.timeout(5_000), waitForHeader: () => () => {}
    })
    const spare = await handshakeDedicatedTunnel(u.encrypter, { socket: sockets.user, remoteAddr: at, log, provider: p.peerId })
    await new Promise(resolve => setTimeout(resolve, 300)) // a spare waits for its connection
    assert.ok(spare.usable)
    const opening = spare.open('the-token', 8080)
    const inbound: InboundDedicatedTunnel = await answering
    assert.ok(inbound.peer.equals(u.peerId), 'the provider learns the user from the handshake')
    assert.equal([inbound.token, inbound.port], ['the-token', 8080])
    const target = await pair() // the provider's side of a "container": target.user is its socket to it
    const accepted = inbound.accept(target.user)
    const dialed = await opening
    const app = await pair()
    const piped = pipeSealed(app.provider, dialed.socket, dialed.keys, { leftover: dialed.leftover })
    target.provider.on('data', (d: Buffer) => { target.provider.write(Buffer.from(d.toString().toUpperCase())) })
    target.provider.on('end', () => { target.provider.end() })
    let got = ''
    app.user.on('data', (d: Buffer) => { got += d.toString() })
    const ended = new Promise(resolve => app.user.once('end', resolve))
    app.user.end('hello through a dedicated tunnel')
    await ended
    assert.is(got, 'HELLO THROUGH A DEDICATED TUNNEL')
    assert.equal(await piped, { sent: 32, received: 32 })
    assert.equal(await accepted, { sent: 32, received: 32 })
    target.close()
    app.close()
  } finally {
    sockets.close()
  }
})

test('a spare whose header never comes is closed without a reply; the wait is released', async () => {
  const [u, p] = [await party(), await party()]
  const sockets = await pair()
  let released = 0
  try {
    const answering = answerDedicatedTunnel(p.encrypter, { socket: sockets.provider, remoteAddr: at, log }, {
      handshakeSignal: AbortSignal.timeout(5_000), headerSignal: () => AbortSignal.timeout(100), waitForHeader: () => () => { released++ }
    })
    const spare = await handshakeDedicatedTunnel(u.encrypter, { socket: sockets.user, remoteAddr: at, log, provider: p.peerId })
    let bytesAfterHandshake = 0
    sockets.user.on('data', (d: Buffer) => { bytesAfterHandshake += d.byteLength })
    await answering.then(() => assert.unreachable('no header came'), () => {})
    if (!sockets.user.readableEnded) await new Promise(resolve => sockets.user.once('end', resolve))
    assert.is(released, 1)
    assert.is(bytesAfterHandshake, 0, 'no refusal was sent')
    assert.not.ok(spare.usable)
  } finally {
    sockets.close()
  }
})

test('the user refuses a provider other than the one it asked for', async () => {
  const [u, p, other] = [await party(), await party(), await party()]
  const sockets = await pair()
  try {
    void answerDedicatedTunnel(p.encrypter, { socket: sockets.provider, remoteAddr: at, log }, {
      handshakeSignal: AbortSignal.timeout(5_000), headerSignal: () => AbortSignal.timeout(5_000), waitForHeader: () => () => {}
    }).catch(() => {})
    await handshakeDedicatedTunnel(u.encrypter, { socket: sockets.user, remoteAddr: at, log, provider: other.peerId }, { signal: AbortSignal.timeout(5_000) })
      .then(() => assert.unreachable('the handshake must fail'), (err: Error) => { assert.match(err.message, /identity key|peer/i) })
    assert.ok(sockets.user.destroyed)
  } finally {
    sockets.close()
  }
})

test.run()
