// Domain-separated Ed25519 signatures by a peer's libp2p key. The domain (topic or DHT
// namespace) is part of what is signed, so a signature cannot be replayed elsewhere.
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import type { PeerId, PrivateKey } from '@libp2p/interface'

const encoder = new TextEncoder()
export const ED25519_SIGNATURE_LENGTH = 64

export function signingBytes (domain: string, body: Uint8Array): Uint8Array {
  const prefix = encoder.encode(`kaisar-sig/1\0${domain}\0`)
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
  const valid = await peerId.publicKey.verify(signingBytes(domain, body), signature)
  return valid ? { ok: true, peerId } : { ok: false, reason: 'bad-signature' }
}
