// Noise with AES-256-GCM as its cipher, offered first between kaisar nodes; libp2p's standard
// /noise (ChaCha20-Poly1305) stays as the fallback for every other peer.
//
// Why: on the tunnel path each end's main thread spent ≈ 25 % in node:crypto's ChaCha20-Poly1305
// (bench/TUNNEL.md), which seals 64 KiB frames at 1.2–1.8 GiB/s on this machine against
// AES-256-GCM's 3.4–5.0 GiB/s (AES-NI, VAES). The server CPUs providers rent out have AES
// instructions; on a CPU without them ChaCha20 is the faster one, and /noise is still there.
//
// What it is: @libp2p/noise's XX handshake and framing unchanged, with Noise's AESGCM cipher
// functions (the Noise spec §12.4: 96-bit nonce of 32 zero bits and the 64-bit counter big-endian)
// in place of ChaChaPoly's. It is negotiated by multistream-select under its own protocol id, so
// a peer that lacks it answers `na` and both use /noise. @libp2p/noise fixes the handshake's
// protocol name string to its ChaChaPoly one; the prologue carries this protocol id instead, so
// the handshake hash binds the cipher both ends negotiated (a rewritten negotiation fails the
// handshake, as Noise's prologue is meant for).
import crypto from 'node:crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { NOISE_AESGCM_PROTOCOL } from '../../protocols/ids.js'
import type { ICryptoInterface } from '@libp2p/noise'

export { NOISE_AESGCM_PROTOCOL }
export const NOISE_AESGCM_PROLOGUE: Uint8Array = new TextEncoder().encode(NOISE_AESGCM_PROTOCOL)

const CIPHER = 'aes-256-gcm'
const TAG_LENGTH = 16

/** One nonce buffer for every message: createCipheriv copies the IV before it returns. */
const nonceScratch = Buffer.alloc(12)

/**
 * Noise's AESGCM nonce from the one @libp2p/noise builds for ChaChaPoly: it writes its counter
 * little-endian at bytes 4–11 after 4 zero bytes; AESGCM wants 4 zero bytes, then big-endian.
 * Valid until the next call (see nonceScratch).
 */
export function aesGcmNonce (chachaNonce: Uint8Array): Buffer {
  const src = new DataView(chachaNonce.buffer, chachaNonce.byteOffset, chachaNonce.byteLength)
  nonceScratch.writeUInt32BE(src.getUint32(8, true), 4)
  nonceScratch.writeUInt32BE(src.getUint32(4, true), 8)
  return nonceScratch
}

function encrypt (plaintext: Uint8Array | Uint8ArrayList, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array): Uint8ArrayList {
  const cipher = crypto.createCipheriv(CIPHER, k, aesGcmNonce(nonce), { authTagLength: TAG_LENGTH })
  if (ad.byteLength > 0) cipher.setAAD(ad)
  // A list of the parts rather than one concatenated buffer: Noise writes them as they are.
  const output = new Uint8ArrayList()
  if (plaintext instanceof Uint8Array) {
    output.append(cipher.update(plaintext))
  } else {
    for (const buf of plaintext) output.append(cipher.update(buf))
  }
  const final = cipher.final()
  if (final.byteLength > 0) output.append(final)
  output.append(cipher.getAuthTag())
  return output
}

function decrypt (ciphertext: Uint8Array | Uint8ArrayList, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array): Uint8Array | Uint8ArrayList {
  if (ciphertext.byteLength < TAG_LENGTH) throw new Error('Invalid aes-256-gcm decryption: shorter than its tag')
  const end = ciphertext.byteLength - TAG_LENGTH
  const decipher = crypto.createDecipheriv(CIPHER, k, aesGcmNonce(nonce), { authTagLength: TAG_LENGTH })
  if (ad.byteLength > 0) decipher.setAAD(ad)
  decipher.setAuthTag(ciphertext.subarray(end))
  if (ciphertext instanceof Uint8Array) {
    const body = decipher.update(ciphertext.subarray(0, end))
    // final() checks the tag and throws on a forgery, before anything is returned.
    const final = decipher.final()
    return final.byteLength > 0 ? Buffer.concat([body, final]) : body
  }
  const output = new Uint8ArrayList()
  for (const buf of ciphertext.sublist(0, end)) output.append(decipher.update(buf))
  const final = decipher.final()
  if (final.byteLength > 0) output.append(final)
  return output
}

/** `base` (X25519, SHA-256, HKDF) with AES-256-GCM as the cipher functions. */
export function aesGcmCrypto (base: ICryptoInterface): ICryptoInterface {
  return { ...base, chaCha20Poly1305Encrypt: encrypt, chaCha20Poly1305Decrypt: decrypt }
}
