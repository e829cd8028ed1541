// Noise with AES-256-GCM (node/network/noise-aesgcm.ts): the cipher functions are AES-256-GCM
// with Noise's AESGCM nonce, forgeries are refused, two kaisar nodes negotiate it, data of
// every frame size crosses it intact, and a peer with only libp2p's /noise still connects.
import crypto from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Uint8ArrayList } from 'uint8arraylist'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { aesGcmCrypto, aesGcmNonce, NOISE_AESGCM_PROTOCOL } from '../../node/network/noise-aesgcm.js'
import { DEFAULT_TUNING } from '../../node/network/stream-tuning.js'
import { echo, handleEcho, startTestNode } from '../helpers/network.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The 12-byte nonce @libp2p/noise passes for counter `n` (little-endian after 4 zero bytes). */
function libp2pNonce (n: number): Uint8Array {
  const b = new Uint8Array(12)
  new DataView(b.buffer).setUint32(4, n, true)
  return b
}

const bytes = (x: Uint8Array | Uint8ArrayList): Uint8Array => x instanceof Uint8Array ? x : x.subarray()

test('AES-256-GCM with Noise\'s AESGCM nonce: 32 zero bits, then the counter big-endian', () => {
  assert.equal([...aesGcmNonce(libp2pNonce(0x01020304))], [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])
  const aes = aesGcmCrypto(defaultCrypto)
  const key = crypto.randomBytes(32)
  const ad = crypto.randomBytes(32)
  const plaintext = crypto.randomBytes(70_000)
  const sealed = bytes(aes.chaCha20Poly1305Encrypt(plaintext, libp2pNonce(7), ad, key))
  // Independently: node:crypto's AES-256-GCM with the spec's nonce for counter 7.
  const nonce = Buffer.alloc(12)
  nonce.writeUInt32BE(7, 8)
  const reference = crypto.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 }).setAAD(ad)
  const expected = Buffer.concat([reference.update(plaintext), reference.final(), reference.getAuthTag()])
  assert.ok(Buffer.compare(Buffer.from(sealed), expected) === 0, 'not AES-256-GCM with the AESGCM nonce')
  // Opens from one buffer and from a list spanning reads; the plaintext list input seals the same.
  assert.ok(Buffer.compare(Buffer.from(bytes(aes.chaCha20Poly1305Decrypt(sealed, libp2pNonce(7), ad, key))), plaintext) === 0)
  const spanning = new Uint8ArrayList(sealed.subarray(0, 1000), sealed.subarray(1000, sealed.byteLength - 5), sealed.subarray(sealed.byteLength - 5))
  assert.ok(Buffer.compare(Buffer.from(bytes(aes.chaCha20Poly1305Decrypt(spanning, libp2pNonce(7), ad, key))), plaintext) === 0)
  const fromList = aes.chaCha20Poly1305Encrypt(new Uint8ArrayList(plaintext.subarray(0, 10), plaintext.subarray(10)), libp2pNonce(7), ad, key)
  assert.ok(Buffer.compare(Buffer.from(bytes(fromList)), expected) === 0)
})

test('a changed byte, another nonce or another key is refused', () => {
  const aes = aesGcmCrypto(defaultCrypto)
  const key = crypto.randomBytes(32)
  const sealed = Buffer.from(bytes(aes.chaCha20Poly1305Encrypt(crypto.randomBytes(100), libp2pNonce(1), new Uint8Array(0), key)))
  const flipped = Buffer.from(sealed)
  flipped[10] = (flipped[10] as number) ^ 1
  assert.throws(() => aes.chaCha20Poly1305Decrypt(flipped, libp2pNonce(1), new Uint8Array(0), key))
  assert.throws(() => aes.chaCha20Poly1305Decrypt(sealed, libp2pNonce(2), new Uint8Array(0), key))
  assert.throws(() => aes.chaCha20Poly1305Decrypt(sealed, libp2pNonce(1), new Uint8Array(0), crypto.randomBytes(32)))
  assert.throws(() => aes.chaCha20Poly1305Decrypt(sealed.subarray(0, 15), libp2pNonce(1), new Uint8Array(0), key), /shorter than its tag/)
})

test('two kaisar nodes negotiate it and every frame size crosses intact; a /noise-only peer gets /noise either way', async () => {
  const nodes: KaisarLibp2p[] = []
  try {
    // Over loopback TCP, the product's transport. (On @libp2p/memory a second dialler's stream
    // never sees the listener's close: found writing this test, not this module's doing.)
    const tcp = { transport: 'tcp', websockets: false } as const
    const listener = await startTestNode(nodes, { listen: ['/ip4/127.0.0.1/tcp/0'], ...tcp })
    await handleEcho(listener)
    const at = listener.getMultiaddrs()[0] as Multiaddr
    const kaisar = await startTestNode(nodes, { listen: [], ...tcp })
    const conn = await kaisar.dial(listener.getMultiaddrs()[0] as Multiaddr)
    assert.is(conn.encryption, NOISE_AESGCM_PROTOCOL)
    // 1 byte, a gossip-sized message, and 3 MiB in Noise's 64 KiB frames.
    for (const size of [1, 900, 3 * 1024 * 1024]) {
      const data = crypto.randomBytes(size)
      assert.ok(Buffer.compare(Buffer.from(await echo(kaisar, at, data)), data) === 0, `${size} bytes changed`)
    }
    const plain = await startTestNode(nodes, { listen: ['/ip4/127.0.0.1/tcp/0'], ...tcp, tuning: { ...DEFAULT_TUNING, noiseAesGcm: false } })
    const fallback = await plain.dial(listener.getMultiaddrs()[0] as Multiaddr)
    assert.is(fallback.encryption, '/noise')
    // ... and the other way round: a kaisar node dialling a /noise-only listener.
    const back = await startTestNode(nodes, { listen: [], ...tcp })
    assert.is((await back.dial(plain.getMultiaddrs()[0] as Multiaddr)).encryption, '/noise')
    const data = crypto.randomBytes(200_000)
    assert.ok(Buffer.compare(Buffer.from(await echo(plain, at, data)), data) === 0)
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test.run()
