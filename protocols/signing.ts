// Domain-separated Ed25519 signatures by a peer's libp2p key. The domain (topic or DHT
// namespace) is part of what is signed, so a signature cannot be replayed elsewhere.
import { createHash } from 'node:crypto'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import type { PeerId, PrivateKey } from '@libp2p/interface'

const encoder = new TextEncoder()
export const ED25519_SIGNATURE_LENGTH = 64

// Each domain's prefix, encoded once: the same few domains (topics, record namespaces) are
// signed and verified again and again. Bounded, should a caller ever pass domains without end.
const PREFIXES_KEPT = 256
const prefixes = new Map<string, Uint8Array>()

function prefixOf (domain: string): Uint8Array {
  let prefix = prefixes.get(domain)
  if (prefix == null) {
    prefix = encoder.encode(`kaisar-sig/1\0${domain}\0`)
    if (prefixes.size < PREFIXES_KEPT) prefixes.set(domain, prefix)
  }
  return prefix
}

export function signingBytes (domain: string, body: Uint8Array): Uint8Array {
  const prefix = prefixOf(domain)
  const out = new Uint8Array(prefix.byteLength + body.byteLength)
  out.set(prefix, 0)
  out.set(body, prefix.byteLength)
  return out
}

export async function signWithDomain (key: PrivateKey, domain: string, body: Uint8Array): Promise<Uint8Array> {
  return await key.sign(signingBytes(domain, body))
}

export type SignerCheck = { ok: true, peerId: PeerId } | { ok: false, reason: 'unsigned' | 'bad-signer' | 'bad-signature' }

/** Parses the signer (PeerId multihash bytes) and checks its signature; no exceptions for bad input. */
export async function verifyWithDomain (signer: Uint8Array, domain: string, body: Uint8Array, signature: Uint8Array): Promise<SignerCheck> {
  if (signature.byteLength === 0 || signer.byteLength === 0) return { ok: false, reason: 'unsigned' }
  let peerId: PeerId
  try {
    peerId = peerIdFromMultihash(Digest.decode(signer))
  } catch {
    return { ok: false, reason: 'bad-signer' }
  }
  // Only Ed25519 peers: their id embeds the key, so nothing has to be looked up to verify.
  if (peerId.type !== 'Ed25519' || signature.byteLength !== ED25519_SIGNATURE_LENGTH) return { ok: false, reason: 'bad-signer' }
  const key = verdictKey(signer, prefixOf(domain), body, signature)
  let valid = verdicts.get(key)
  if (valid == null) {
    valid = await peerId.publicKey.verify(signingBytes(domain, body), signature)
    remember(key, valid)
  }
  return valid ? { ok: true, peerId } : { ok: false, reason: 'bad-signature' }
}

// Verdicts of recent verifications, by a hash of everything verified (signer, domain, body,
// signature): verifying is a pure function of those bytes, so the same bytes get the same
// answer without a second Ed25519 verification (≈ 60–100 µs here; a SHA-256 of them ≈ 1 µs).
// A node meets the same signed bytes again when a record is fetched or validated repeatedly and
// when a message arrives over several paths; the simulator, where hundreds of nodes share one
// process and every one of them verifies every gossip message, spent 13 % of its CPU on the
// same verifications (`--cpu-prof`, 300 nodes) before this.
const VERDICTS_KEPT = 8192
const verdicts = new Map<string, boolean>()

function verdictKey (signer: Uint8Array, prefix: Uint8Array, body: Uint8Array, signature: Uint8Array): string {
  // Unambiguous without separators: the signer is a multihash (it carries its own length) and
  // the signature has a fixed length, both checked before this. The signed bytes (prefix ‖ body)
  // are hashed as two pieces, not copied into one: a hit (the usual case: every checker of a
  // simulator's process validates every reveal) then allocates nothing but the key. At 1,000
  // simulated nodes building those bytes and their key was 40 % of a worker during a reveal
  // burst (sim/README.md, stop 27).
  return createHash('sha256').update(signer).update(prefix).update(body).update(signature).digest('base64')
}

function remember (key: string, valid: boolean): void {
  // Oldest first out (a Map iterates in insertion order).
  if (verdicts.size >= VERDICTS_KEPT) verdicts.delete(verdicts.keys().next().value as string)
  verdicts.set(key, valid)
}
