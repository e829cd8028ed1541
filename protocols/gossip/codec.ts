// Sealing and opening gossip envelopes: encode + sign on publish, decode + verify on receipt.
import { signWithDomain, verifyWithDomain } from '../signing.js'
import { NodeRole, SignedEnvelope } from './envelope.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

export { NodeRole }

/** Hard upper bound for any envelope; topics set lower ones. Gossip carries small announcements only. */
export const MAX_ENVELOPE_BYTES = 64 * 1024

function body (env: SignedEnvelope): Uint8Array {
  return SignedEnvelope.encode({ ...env, signature: new Uint8Array(0) })
}

export async function sealEnvelope (key: PrivateKey, signer: PeerId, topic: string, role: NodeRole, payload: Uint8Array<ArrayBuffer>, timestamp = Date.now()): Promise<Uint8Array> {
  const env: SignedEnvelope = { signer: new Uint8Array(signer.toMultihash().bytes), role, timestamp: BigInt(timestamp), payload, signature: new Uint8Array(0) }
  env.signature = new Uint8Array(await signWithDomain(key, topic, body(env)))
  return SignedEnvelope.encode(env)
}

export type OpenedEnvelope =
  | { ok: true, envelope: SignedEnvelope, signer: PeerId }
  | { ok: false, reason: 'too-large' | 'malformed' | 'unsigned' | 'bad-signer' | 'bad-signature' }

export async function openEnvelope (topic: string, data: Uint8Array): Promise<OpenedEnvelope> {
  if (data.byteLength > MAX_ENVELOPE_BYTES) return { ok: false, reason: 'too-large' }
  let envelope: SignedEnvelope
  try {
    envelope = SignedEnvelope.decode(data)
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  const check = await verifyWithDomain(envelope.signer, topic, body(envelope), envelope.signature)
  if (!check.ok) return check
  return { ok: true, envelope, signer: check.peerId }
}
