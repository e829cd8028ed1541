// The byte-path tuning (node/network/stream-tuning.ts): a tuned node talks to a stock libp2p
// node byte for byte (nothing on the wire changed), the knobs are really in effect on the
// installed @libp2p/yamux and @libp2p/noise (an upgrade that changes their internals must fail
// here, not silently fall back), and the libsodium cipher adapter is the same AEAD as
// node:crypto's, keeps handshake ciphertext intact and rejects forgeries.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { nodeCrypto } from '@libp2p/noise/crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Uint8ArrayList } from 'uint8arraylist'
import { DEFAULT_TUNING, STOCK_TUNING, sodiumCrypto } from '../../node/network/stream-tuning.js'
import { tapYamuxFrames, YAMUX_FLAG, YAMUX_FRAME } from '../helpers/network.js'
import { waitFor } from '../helpers/wait.js'
import { connect, listen, portOf, smallNode, startTunnel } from '../helpers/tunnel.js'
import type { StreamTuning } from '../../node/network/stream-tuning.js'

const MiB = 1024 * 1024

/** Echoes `bytes` of random data through a tunnel between two nodes; returns both digests. */
interface Patched { ownWindowUpdate: boolean, corked: boolean, noCopyDecrypt: boolean, noThrowDecode: boolean }

/** Which knobs are in effect on the user's connection (own properties where the patch goes). */
function patchedOn (conn: unknown): Omit<Patched, 'ownWindowUpdate'> {
  const own = (o: unknown, k: string): boolean => o != null && Object.prototype.hasOwnProperty.call(o, k)
  const c = conn as { maConn?: unknown, muxer?: { maConn?: { decoder?: unknown } } }
  return {
    corked: own(c.maConn, 'sendData'),
    noCopyDecrypt: own(c.muxer?.maConn, 'decrypt'),
    noThrowDecode: own(c.muxer?.maConn?.decoder, 'decode')
  }
}

async function echoThrough (userTuning: StreamTuning, providerTuning: StreamTuning, bytes: number): Promise<{ sent: string, received: string } & Patched> {
  const echo = await listen(sock => { sock.pipe(sock) })
  const tunnel = await startTunnel(portOf(echo), { userTuning, providerTuning })
  try {
    const client = await connect(tunnel.port)
    const data = randomBytes(bytes)
    const received = createHash('sha256')
    client.on('data', (d: Buffer) => received.update(d))
    const ended = new Promise(resolve => client.once('end', resolve))
    client.end(data)
    await ended
    const stream = tunnel.providerStreams[0]
    return {
      sent: createHash('sha256').update(data).digest('hex'),
      received: received.digest('hex'),
      ownWindowUpdate: stream != null && Object.prototype.hasOwnProperty.call(stream, 'sendWindowUpdate'),
      ...patchedOn(tunnel.user.getConnections()[0])
    }
  } finally {
    await tunnel.stop()
    echo.close()
  }
}

test('a tuned node and a stock node exchange data byte for byte, either way round', async () => {
  const all: StreamTuning = { ...DEFAULT_TUNING, yamuxHalfWindowUpdates: true }
  const a = await echoThrough(all, STOCK_TUNING, 8 * MiB)
  assert.is(a.received, a.sent)
  const b = await echoThrough(STOCK_TUNING, all, 8 * MiB)
  assert.is(b.received, b.sent)
  // Each knob found the internals it patches on the installed @libp2p/yamux, @libp2p/noise and
  // @libp2p/tcp: an upgrade that changes them fails here instead of silently running stock.
  assert.ok(b.ownWindowUpdate, 'the tuned provider\'s Yamux streams use the half-window policy')
  assert.not.ok(a.ownWindowUpdate, 'a stock provider is untouched')
  assert.equal({ corked: a.corked, noCopyDecrypt: a.noCopyDecrypt, noThrowDecode: a.noThrowDecode }, { corked: true, noCopyDecrypt: true, noThrowDecode: true }, 'tuned user connection')
  assert.equal({ corked: b.corked, noCopyDecrypt: b.noCopyDecrypt, noThrowDecode: b.noThrowDecode }, { corked: false, noCopyDecrypt: false, noThrowDecode: false }, 'stock user connection')
})

// ---- Yamux window updates after small messages ----

const SINK = '/kaisar/test-sink/1.0.0'

/**
 * Sends `writes` (each awaited to the wire, so each is its own Yamux frame) from a default node
 * to a receiver built with `receiverTuning`; returns how many window updates without flags (not
 * a stream's SYN or ACK) the receiver sent, and whether every byte arrived.
 */
async function windowUpdatesFor (receiverTuning: StreamTuning, writes: Uint8Array[]): Promise<{ updates: number, intact: boolean }> {
  const receiver = await smallNode(receiverTuning)
  const sender = await smallNode(DEFAULT_TUNING)
  try {
    const received = createHash('sha256')
    const done = new Promise<void>((resolve, reject) => {
      void receiver.handle(SINK, async stream => {
        try {
          for await (const chunk of stream) received.update(chunk.subarray())
          resolve()
        } catch (err) { reject(err as Error) }
      })
    })
    const conn = await sender.dial(receiver.getMultiaddrs()[0] as NonNullable<ReturnType<typeof receiver.getMultiaddrs>[0]>)
    const inbound = await waitFor('the receiver\'s side of the connection', () => receiver.getConnections()[0], 5_000, 5)
    let updates = 0
    tapYamuxFrames(inbound, (type, flag) => { if (type === YAMUX_FRAME.windowUpdate && flag === YAMUX_FLAG.none) updates++ })
    const stream = await conn.newStream(SINK)
    const sent = createHash('sha256')
    for (const w of writes) {
      sent.update(w)
      if (!stream.send(w)) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
      // One frame per message, as gossip and RPCs send them: let it reach the receiver first.
      await new Promise(resolve => setTimeout(resolve, 0))
    }
    await stream.close()
    await done
    return { updates, intact: sent.digest('hex') === received.digest('hex') }
  } finally {
    await sender.stop()
    await receiver.stop()
  }
}

test('Yamux: no window update after each small message; bulk frames are granted as before', async () => {
  const small = Array.from({ length: 150 }, () => randomBytes(100)) // 15 KB, below one grant
  const stock = await windowUpdatesFor(STOCK_TUNING, small)
  const tuned = await windowUpdatesFor(DEFAULT_TUNING, small)
  assert.ok(stock.intact && tuned.intact, 'every byte arrived')
  // @libp2p/yamux answers every data frame with an update: if an upgrade stops doing so, this
  // knob may no longer be needed, and the test says so.
  assert.ok(stock.updates >= 140, `stock Yamux sent ${stock.updates} updates for 150 messages`)
  assert.is(tuned.updates, 0, `tuned receiver sent ${tuned.updates} updates for 15 KB of small messages`)
  // Past 16 KiB read the tuned receiver grants again (the sender's credit is never withheld).
  const more = await windowUpdatesFor(DEFAULT_TUNING, Array.from({ length: 400 }, () => randomBytes(100)))
  assert.ok(more.intact)
  assert.ok(more.updates >= 2 && more.updates <= 3, `40 KB of small messages: ${more.updates} updates (one per 16 KiB read)`)
  // Bulk: 64 KiB writes are each above the threshold, so every frame is granted, as stock does.
  const bulk = Array.from({ length: 64 }, () => randomBytes(64 * 1024))
  const stockBulk = await windowUpdatesFor(STOCK_TUNING, bulk)
  const tunedBulk = await windowUpdatesFor(DEFAULT_TUNING, bulk)
  assert.ok(stockBulk.intact && tunedBulk.intact, 'every bulk byte arrived')
  assert.ok(tunedBulk.updates >= 64 && tunedBulk.updates >= stockBulk.updates * 0.9, `bulk: tuned ${tunedBulk.updates} updates, stock ${stockBulk.updates}`)
})

// ---- the libsodium adapter, on a stand-in with sodium-native's API built on node:crypto ----

const fakeSodium = {
  crypto_aead_chacha20poly1305_ietf_encrypt_detached (c: Uint8Array, mac: Uint8Array, m: Uint8Array, ad: Uint8Array | null, _nsec: null, npub: Uint8Array, k: Uint8Array): void {
    const cipher = createCipheriv('chacha20-poly1305', k, npub, { authTagLength: 16 })
    if (ad != null) cipher.setAAD(ad, { plaintextLength: m.byteLength })
    const out = Buffer.concat([cipher.update(m), cipher.final()]) // computed fully before c (which may alias m) is written
    c.set(out)
    mac.set(cipher.getAuthTag())
  },
  crypto_aead_chacha20poly1305_ietf_decrypt_detached (m: Uint8Array, _nsec: null, c: Uint8Array, mac: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): void {
    const decipher = createDecipheriv('chacha20-poly1305', k, npub, { authTagLength: 16 })
    if (ad != null) decipher.setAAD(ad, { plaintextLength: c.byteLength })
    decipher.setAuthTag(mac)
    const out = decipher.update(c)
    decipher.final() // throws on a forged tag, like sodium-native ('could not verify data')
    m.set(out)
  }
}

test('the sodium cipher adapter matches node:crypto\'s AEAD, handles split input, and rejects forgeries', () => {
  const sodium = sodiumCrypto(fakeSodium)
  const k = randomBytes(32)
  const nonce = randomBytes(12)
  const ad = randomBytes(32)
  const plaintext = randomBytes(70_000)
  // Split input (a Yamux header plus a body), as Noise hands it over.
  const split = new Uint8ArrayList(plaintext.subarray(0, 12), plaintext.subarray(12))
  const ours = Buffer.from(sodium.chaCha20Poly1305Encrypt(split, nonce, ad, k).subarray())
  const theirs = Buffer.from(nodeCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k).subarray())
  assert.ok(ours.equals(theirs), 'same ciphertext and tag as node:crypto')
  assert.ok(Buffer.from(split.subarray()).equals(plaintext), 'the caller\'s plaintext buffers are untouched')

  // Without dst (the handshake's case) the ciphertext must stay intact: Noise hashes it next.
  const ct = Buffer.from(theirs)
  const pt = sodium.chaCha20Poly1305Decrypt(ct, nonce, ad, k)
  assert.ok(Buffer.from(pt.subarray()).equals(plaintext))
  assert.ok(ct.equals(theirs), 'ciphertext not decrypted in place without dst')
  // A ciphertext split across socket reads.
  const splitCt = new Uint8ArrayList(theirs.subarray(0, 1000), theirs.subarray(1000))
  assert.ok(Buffer.from(sodium.chaCha20Poly1305Decrypt(splitCt, nonce, ad, k).subarray()).equals(plaintext))
  // With dst (Noise transport messages): in place.
  const inPlace = Buffer.from(theirs)
  const dst = inPlace.subarray(0, inPlace.byteLength - 16)
  const out = sodium.chaCha20Poly1305Decrypt(inPlace, nonce, ad, k, dst)
  assert.ok(out instanceof Uint8Array && out.buffer === dst.buffer && Buffer.from(out).equals(plaintext))

  const forged = Buffer.from(theirs)
  forged.writeUInt8(forged.readUInt8(forged.byteLength - 1) ^ 1, forged.byteLength - 1)
  assert.throws(() => sodium.chaCha20Poly1305Decrypt(forged, nonce, ad, k))
  assert.throws(() => sodium.chaCha20Poly1305Decrypt(forged.subarray(0, 10), nonce, ad, k))
})

test('a node on the sodium adapter completes Noise handshakes and exchanges data with a default node', async () => {
  const withSodium: StreamTuning = { ...DEFAULT_TUNING, noiseCrypto: sodiumCrypto(fakeSodium) }
  const a = await echoThrough(withSodium, DEFAULT_TUNING, 4 * MiB)
  assert.is(a.received, a.sent)
  const b = await echoThrough(DEFAULT_TUNING, withSodium, 4 * MiB)
  assert.is(b.received, b.sent)
})

test.run()
