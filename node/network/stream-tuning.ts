// Throughput tuning of the stack's byte path (TCP → Noise → Yamux → stream), measured with
// `npm run bench -- tunnel` (bench/tunnel.ts; numbers in bench/README.md). Each knob removes
// work per 64 KiB of data; none changes what goes on the wire in a way another libp2p peer
// could notice, and none touches the handshake or the cipher: Noise (XX, ChaCha20-Poly1305)
// stays end to end exactly as @libp2p/noise does it.
//
// The knobs reach into @libp2p/noise 17.0 and @libp2p/yamux 8.0 internals that their public
// API does not expose (instance methods and fields, never module state or prototypes, so a
// node built with STOCK_TUNING in the same process is unaffected). Each one checks the shape
// it patches and falls back to the stock behaviour when a dependency update changed it, so an
// upgrade can cost speed but never correctness; test/unit/stream-tuning.test.ts pins them.
import net from 'node:net'
import { noise } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { yamux } from '@libp2p/yamux'
import { Uint8ArrayList } from 'uint8arraylist'
import { aesGcmCrypto, NOISE_AESGCM_PROLOGUE, NOISE_AESGCM_PROTOCOL } from './noise-aesgcm.js'
import type { ICryptoInterface, NoiseExtensions } from '@libp2p/noise'
import type { YamuxMuxerInit } from '@libp2p/yamux'
import type { ConnectionEncrypter, MessageStream, SecureConnectionOptions, SecuredConnection, StreamMuxerFactory } from '@libp2p/interface'

export interface StreamTuning {
  /**
   * Yamux: grant receive window once half of it has been consumed (what go-yamux and
   * rust-yamux do) instead of after every data frame. @libp2p/yamux 8 answers each frame with
   * a 12-byte window update, which the receiver must encrypt (its own Noise frame) and write
   * (its own syscall), and the sender must decrypt and dispatch.
   */
  yamuxHalfWindowUpdates: boolean
  /**
   * Yamux: grant receive window only once this many bytes have been read since the last grant
   * (`undefined`: after every data frame, as @libp2p/yamux 8 does). A stream of small messages
   * (gossip, DHT and PoPW requests) otherwise answers each one with a window-update frame of
   * its own: encrypted, written and decrypted like the message itself, so up to every other
   * frame a node sends is a window update. The remote never waits for these: it still has the
   * window less this many bytes of credit. Bulk data, whose frames are each larger than this,
   * is granted after every frame exactly as before.
   */
  yamuxWindowUpdateMinBytes?: number
  /**
   * TCP: cork the socket around each Noise batch so its pieces (2-byte length, ciphertext
   * parts, 16-byte tag, per Noise frame) leave in one writev instead of one write(2) each.
   */
  corkedWrites: boolean
  /**
   * Noise: do not copy a received frame that spans socket reads. @libp2p/noise builds an
   * in-place destination with `list.subarray()` (a 64 KiB copy whenever the frame spans two
   * reads, i.e. almost always) even when the cipher (node:crypto) never uses it.
   */
  noiseNoCopyDecrypt: boolean
  /**
   * Noise: find frame boundaries without exceptions. @libp2p/noise's length decoder throws a
   * RangeError whenever fewer than 2 bytes are buffered, which @libp2p/utils' decoder catches
   * to stop; so every socket read ends in a thrown and caught exception (a stack trace
   * captured, ~12 % of the CPU of a 64-byte request round trip).
   */
  noiseNoThrowDecode: boolean
  /**
   * ChaCha20-Poly1305 for Noise transport messages. `undefined` keeps @libp2p/noise's default
   * (node:crypto ≥ 1200 bytes, AssemblyScript below); `loadSodiumCrypto()` opts in to libsodium.
   */
  noiseCrypto?: ICryptoInterface
  /**
   * Noise: offer the AES-256-GCM variant (noise-aesgcm.ts) before libp2p's /noise. Between two
   * kaisar nodes it replaces ChaCha20-Poly1305 (2–3× faster here); other peers get /noise.
   */
  noiseAesGcm?: boolean
  /**
   * Writable high-water mark of libp2p's TCP sockets. Node's default (16 KiB) is below one
   * Noise frame, so every write of a 64 KiB frame reports backpressure and the whole muxer
   * pauses until the next tick's 'drain'. `undefined` keeps Node's default.
   */
  tcpHighWaterMark?: number
}

/** libp2p as published: the "before" of every measurement. */
export const STOCK_TUNING: StreamTuning = Object.freeze({
  yamuxHalfWindowUpdates: false,
  corkedWrites: false,
  noiseNoCopyDecrypt: false,
  noiseNoThrowDecode: false
})

/**
 * What `createNetwork` uses unless told otherwise. Measured effects: bench/TUNNEL.md.
 * yamuxHalfWindowUpdates stays off: across processes it measured no better than Yamux's own
 * policy when combined with tcpHighWaterMark, and clearly worse without it (0.6–0.7× MiB/s,
 * 1.4× CPU per MiB, every run), so it is left for a later, quieter measurement.
 * yamuxWindowUpdateMinBytes (16 KiB) is below every bulk frame, so tunnels are granted as
 * before; it removes the update after each small message (sim/README.md, stop 17).
 */
export const DEFAULT_TUNING: StreamTuning = Object.freeze({
  yamuxHalfWindowUpdates: false,
  corkedWrites: true,
  noiseNoCopyDecrypt: true,
  noiseNoThrowDecode: true,
  tcpHighWaterMark: 1024 * 1024,
  yamuxWindowUpdateMinBytes: 16 * 1024,
  noiseAesGcm: true
})

// ---- Yamux --------------------------------------------------------------------------------

/** Yamux frame type and stream states (spec constants; @libp2p/yamux's enums are not exported). */
const FRAME_WINDOW_UPDATE = 1
const STATE_ESTABLISHED = 3
const STATE_PAUSED = 5

/** The fields of @libp2p/yamux 8's YamuxStream that the window-update policy reads and writes. */
interface YamuxStreamInternals {
  streamId: number
  state: number
  recvWindow: number
  recvWindowCapacity: number
  maxStreamWindowSize: number
  epochStart: number
  getRTT: () => number
  getSendFlags: () => number
  sendFrame: (header: { type: number, flag: number, streamID: number, length: number }) => boolean
  sendWindowUpdate: () => void
}

interface YamuxMuxerInternals {
  _newStream: (id: number, state: number, direction: string) => unknown
}

function isYamuxStream (s: unknown): s is YamuxStreamInternals {
  const o = s as Partial<YamuxStreamInternals> | null
  return o != null && typeof o.recvWindow === 'number' && typeof o.recvWindowCapacity === 'number' &&
    typeof o.maxStreamWindowSize === 'number' && typeof o.epochStart === 'number' &&
    typeof o.getRTT === 'function' && typeof o.getSendFlags === 'function' && typeof o.sendFrame === 'function'
}

/**
 * @libp2p/yamux 8.0's `sendWindowUpdate`, deferred: while the stream is established and fewer
 * than `minConsumed` bytes were read since the last grant, send nothing (the remote still has
 * the rest of the window as credit, so it never stalls). Updates that carry flags (a stream's
 * SYN or ACK) are never deferred. With `rttFloorMs` = 1 an RTT of 0 ms (loopback, where
 * Date.now() cannot see the round trip) counts as 1 ms, so the window still grows to its
 * maximum when the reader keeps up; 0 keeps upstream's comparison.
 */
function deferredWindowUpdate (minConsumed: (s: YamuxStreamInternals) => number, rttFloorMs: number): (this: YamuxStreamInternals) => void {
  return function (this: YamuxStreamInternals): void {
    if (this.state === STATE_PAUSED) {
      // As upstream: the epoch restarts when reading resumes.
      this.epochStart = Date.now()
      return
    }
    if (this.state === STATE_ESTABLISHED && this.recvWindow - this.recvWindowCapacity < minConsumed(this)) return
    const flags = this.getSendFlags()
    const now = Date.now()
    const rtt = this.getRTT()
    if (flags === 0 && rtt > -1 && (now - this.epochStart) <= Math.max(rtt, rttFloorMs) * 4) {
      this.recvWindow = Math.min(this.recvWindow * 2, this.maxStreamWindowSize)
    }
    if (this.recvWindowCapacity >= this.recvWindow && flags === 0) return
    const delta = this.recvWindow - this.recvWindowCapacity
    this.recvWindowCapacity = this.recvWindow
    this.epochStart = now
    this.sendFrame({ type: FRAME_WINDOW_UPDATE, flag: flags, streamID: this.streamId, length: delta })
  }
}

/** The window-update policy `tuning` asks for, or undefined for @libp2p/yamux's own. */
function windowUpdatePolicy (tuning: StreamTuning): ((this: YamuxStreamInternals) => void) | undefined {
  const minBytes = tuning.yamuxWindowUpdateMinBytes ?? 0
  // Half-window updates (what go-yamux and rust-yamux do), at least minBytes.
  if (tuning.yamuxHalfWindowUpdates) return deferredWindowUpdate(s => Math.max(s.recvWindow / 2, minBytes), 1)
  if (minBytes > 0) return deferredWindowUpdate(() => minBytes, 0)
  return undefined
}

/** `yamux(init)` whose streams use the tuned window-update policy when `tuning` asks for one. */
export function tunedYamux (init: YamuxMuxerInit, tuning: StreamTuning): () => StreamMuxerFactory {
  const factory = yamux(init)
  const policy = windowUpdatePolicy(tuning)
  if (policy == null) return factory
  return () => {
    const muxerFactory = factory()
    const createStreamMuxer = muxerFactory.createStreamMuxer.bind(muxerFactory)
    muxerFactory.createStreamMuxer = (maConn: MessageStream) => {
      const muxer = createStreamMuxer(maConn)
      const internals = muxer as unknown as Partial<YamuxMuxerInternals>
      const newStream = internals._newStream
      if (typeof newStream !== 'function') return muxer // shape changed: stock behaviour
      internals._newStream = function (this: unknown, ...args: [number, number, string]) {
        const stream = newStream.apply(this, args)
        if (isYamuxStream(stream)) stream.sendWindowUpdate = policy
        return stream
      }
      return muxer
    }
    return muxerFactory
  }
}

// ---- Noise --------------------------------------------------------------------------------

/** @libp2p/noise 17.0's EncryptedMessageStream: the fields the no-copy decrypt uses. */
interface EncryptedStreamInternals {
  handshake: { decrypt: (ciphertext: Uint8Array | Uint8ArrayList, dst?: Uint8Array) => Uint8Array | Uint8ArrayList }
  decrypt: (chunk: Uint8Array | Uint8ArrayList) => Uint8ArrayList
}

/** The fields of @libp2p/tcp 11's socket connection that corked writes use. */
interface TcpConnectionInternals {
  socket: net.Socket
  sendData: (data: Uint8ArrayList) => { sentBytes: number, canSendMore: boolean }
}

const NOISE_MAX_MESSAGE = 65535
const TAG_LENGTH = 16
/** Below this @libp2p/noise's default cipher is the AssemblyScript one, which decrypts into `dst`. */
const AS_CRYPTO_BELOW = 1200

function corkWrites (conn: MessageStream): void {
  const tcp = conn as unknown as Partial<TcpConnectionInternals>
  const socket = tcp.socket
  const sendData = tcp.sendData
  if (!(socket instanceof net.Socket) || typeof sendData !== 'function') return
  tcp.sendData = function (this: unknown, data: Uint8ArrayList) {
    socket.cork()
    try {
      return sendData.call(this, data)
    } finally {
      // uncork() flushes every chunk written since cork() with one writev.
      socket.uncork()
    }
  }
}

function noCopyDecrypt (secured: MessageStream, usesAsCrypto: boolean): void {
  const ems = secured as unknown as Partial<EncryptedStreamInternals>
  const handshake = ems.handshake
  if (handshake == null || typeof handshake.decrypt !== 'function' || typeof ems.decrypt !== 'function') return
  ems.decrypt = (chunk: Uint8Array | Uint8ArrayList): Uint8ArrayList => {
    const output = new Uint8ArrayList()
    for (let i = 0; i < chunk.byteLength; i += NOISE_MAX_MESSAGE) {
      const end = Math.min(i + NOISE_MAX_MESSAGE, chunk.byteLength)
      if (end - TAG_LENGTH < i) throw new Error('Invalid chunk')
      const encrypted = chunk instanceof Uint8Array ? chunk.subarray(i, end) : chunk.sublist(i, end)
      // A destination only where it is free (one contiguous buffer) or needed (the
      // AssemblyScript cipher for short frames requires one); node:crypto ignores it.
      const dst = chunk instanceof Uint8Array || (usesAsCrypto && encrypted.byteLength < AS_CRYPTO_BELOW)
        ? chunk.subarray(i, end - TAG_LENGTH)
        : undefined
      output.append(handshake.decrypt(encrypted, dst))
    }
    return output
  }
}

/** @libp2p/utils 7.4's LengthPrefixedDecoder as Noise's EncryptedMessageStream uses it. */
interface FrameDecoderInternals {
  buffer: Uint8ArrayList
  maxBufferSize: number
  decode: (buf: Uint8Array | Uint8ArrayList) => Generator<Uint8ArrayList>
}

function noThrowDecode (secured: MessageStream): void {
  const decoder = (secured as unknown as { decoder?: Partial<FrameDecoderInternals> }).decoder
  const buffer = decoder?.buffer
  const maxBufferSize = decoder?.maxBufferSize
  if (decoder == null || !(buffer instanceof Uint8ArrayList) || typeof maxBufferSize !== 'number' || typeof decoder.decode !== 'function') return
  // The same framing (2-byte big-endian length, then that many bytes), checked up front.
  decoder.decode = function * (buf: Uint8Array | Uint8ArrayList): Generator<Uint8ArrayList> {
    buffer.append(buf)
    if (buffer.byteLength > maxBufferSize) throw new Error(`Buffer length limit exceeded - ${buffer.byteLength}/${maxBufferSize}`)
    while (buffer.byteLength >= 2) {
      const end = 2 + buffer.getUint16(0)
      if (buffer.byteLength < end) break
      const frame = buffer.sublist(2, end)
      buffer.consume(end)
      if (frame.byteLength > 0) yield frame
    }
  }
}

/**
 * `noise(init)` with the tuned write and decrypt paths when `tuning` says so. `cipher` 'aesgcm'
 * builds the AES-256-GCM variant under its own protocol id (noise-aesgcm.ts); 'chachapoly' is
 * libp2p's /noise (with `tuning.noiseCrypto` when set).
 */
export function tunedNoise (tuning: StreamTuning, cipher: 'chachapoly' | 'aesgcm' = 'chachapoly'): (components: Parameters<ReturnType<typeof noise>>[0]) => ConnectionEncrypter<NoiseExtensions> {
  const factory = cipher === 'aesgcm'
    ? noise({ crypto: aesGcmCrypto(defaultCrypto), prologueBytes: NOISE_AESGCM_PROLOGUE })
    : noise(tuning.noiseCrypto != null ? { crypto: tuning.noiseCrypto } : {})
  const tuned = tuning.corkedWrites || tuning.noiseNoCopyDecrypt || tuning.noiseNoThrowDecode
  // Only the AssemblyScript ChaCha20 (@libp2p/noise's default below 1200 bytes) decrypts into `dst`.
  const usesAsCrypto = cipher === 'chachapoly' && tuning.noiseCrypto == null
  return (components) => {
    const encrypter = factory(components)
    if (cipher === 'aesgcm') encrypter.protocol = NOISE_AESGCM_PROTOCOL
    if (!tuned) return encrypter
    type Secure = (c: MessageStream, o?: SecureConnectionOptions) => Promise<SecuredConnection<NoiseExtensions>>
    const wrap = (secure: Secure): Secure =>
      async (connection, options) => {
        if (tuning.corkedWrites) corkWrites(connection)
        const secured = await secure(connection, options)
        if (tuning.noiseNoCopyDecrypt) noCopyDecrypt(secured.connection, usesAsCrypto)
        if (tuning.noiseNoThrowDecode) noThrowDecode(secured.connection)
        return secured
      }
    encrypter.secureOutbound = wrap(encrypter.secureOutbound.bind(encrypter))
    encrypter.secureInbound = wrap(encrypter.secureInbound.bind(encrypter))
    return encrypter
  }
}

/** The connection encrypters a node offers, in order of preference. */
export function noiseEncrypters (tuning: StreamTuning): Array<ReturnType<typeof tunedNoise>> {
  return tuning.noiseAesGcm === true ? [tunedNoise(tuning, 'aesgcm'), tunedNoise(tuning)] : [tunedNoise(tuning)]
}

// ---- ChaCha20-Poly1305 from libsodium -----------------------------------------------------

/** The part of sodium-native's API used here (sodium-native 4/5). */
interface SodiumAead {
  crypto_aead_chacha20poly1305_ietf_encrypt_detached: (c: Uint8Array, mac: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array) => unknown
  crypto_aead_chacha20poly1305_ietf_decrypt_detached: (m: Uint8Array, nsec: null, c: Uint8Array, mac: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array) => unknown
}

function isSodiumAead (x: unknown): x is SodiumAead {
  const o = x as Partial<SodiumAead> | null
  return o != null && typeof o.crypto_aead_chacha20poly1305_ietf_encrypt_detached === 'function' &&
    typeof o.crypto_aead_chacha20poly1305_ietf_decrypt_detached === 'function'
}

function gather (data: Uint8Array | Uint8ArrayList, extra: number): Buffer {
  const out = Buffer.allocUnsafe(data.byteLength + extra)
  if (data instanceof Uint8Array) {
    out.set(data, 0)
  } else {
    let offset = 0
    for (const buf of data) { out.set(buf, offset); offset += buf.byteLength }
  }
  return out
}

/**
 * Noise's cipher functions on libsodium (IETF ChaCha20-Poly1305, the same AEAD and wire format
 * as node:crypto's), everything else (X25519, SHA-256, HKDF) as @libp2p/noise's default. Per
 * 64 KiB frame it allocates one buffer and makes at most one copy (node:crypto: a new cipher
 * object, output, final and tag buffers), and short frames take ~1 µs instead of 2–9 µs.
 */
export function sodiumCrypto (sodium: SodiumAead): ICryptoInterface {
  return {
    ...defaultCrypto,
    chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
      // Gathered into a fresh buffer and encrypted in place there: the plaintext buffers
      // belong to the caller (a socket read, an application's reused buffer) and stay intact.
      const out = gather(plaintext, TAG_LENGTH)
      const len = plaintext.byteLength
      const body = out.subarray(0, len)
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(body, out.subarray(len), body, ad.byteLength > 0 ? ad : null, null, nonce, k)
      return out
    },
    chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
      if (ciphertext.byteLength < TAG_LENGTH) throw new Error('Invalid chacha20poly1305 decryption')
      const len = ciphertext.byteLength - TAG_LENGTH
      let input: Uint8Array
      let output: Uint8Array
      if (ciphertext instanceof Uint8Array) {
        input = ciphertext
        // Noise's transport path passes `dst` (the ciphertext's own bytes, a socket read the
        // decoder has consumed) to decrypt in place; the handshake passes none, because it
        // hashes the ciphertext afterwards, so it must stay intact: then a fresh buffer.
        output = dst != null && dst.byteLength === len ? dst : Buffer.allocUnsafe(len)
      } else {
        // Spans socket reads: gather once, then decrypt in place in our own copy.
        input = gather(ciphertext, 0)
        output = input.subarray(0, len)
      }
      // libsodium verifies the tag before it writes any plaintext, and throws on a forgery.
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(output, null, input.subarray(0, len), input.subarray(len), ad.byteLength > 0 ? ad : null, nonce, k)
      return output
    }
  }
}

/**
 * Noise crypto on sodium-native when that package can be imported (`specifier` may be a
 * path, for trying a copy installed elsewhere), otherwise `undefined` (keep the default).
 */
export async function loadSodiumCrypto (specifier = 'sodium-native'): Promise<ICryptoInterface | undefined> {
  try {
    const mod: unknown = await import(specifier)
    const sodium = (mod as { default?: unknown }).default ?? mod
    return isSodiumAead(sodium) ? sodiumCrypto(sodium) : undefined
  } catch {
    return undefined
  }
}
