// LeaseToken: what a lease holder presents to open a tunnel to the lease's container ports.
// Issued and signed by the provider (its libp2p key), for the peers allowed to use it (the
// user's node; checkers acting as users), the ports the order published, until it expires.
// Text form: base64url(JSON body) "." base64url(Ed25519 signature over the body).
import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import { signWithDomain, verifyWithDomain } from '../signing.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

const DOMAIN = 'kaisar-lease-token/1'

export const tokenBodySchema = z.object({
  v: z.literal(1),
  leaseId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  provider: z.string().max(128),
  /** Peer ids allowed to use the token (their Noise identity is checked at tunnel open). */
  holders: z.array(z.string().max(128)).min(1).max(16),
  /** Container ports the token opens. */
  ports: z.array(z.number().int().min(1).max(65535)).min(1).max(64),
  issuedAt: z.number().int(),
  expiresAt: z.number().int()
}).strict()

export type LeaseTokenBody = z.infer<typeof tokenBodySchema>

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url')

export async function issueLeaseToken (key: PrivateKey, body: Omit<LeaseTokenBody, 'v'>): Promise<string> {
  const json = Buffer.from(JSON.stringify({ v: 1, ...body }))
  const signature = await signWithDomain(key, DOMAIN, json)
  return `${b64(json)}.${b64(signature)}`
}

export type TokenCheck = { ok: true, body: LeaseTokenBody, provider: PeerId } | { ok: false, reason: 'malformed' | 'bad-signature' }

/** Parses and verifies a token's signature (by the provider it names). Expiry and holders are the caller's to check. */
export async function openLeaseToken (text: string): Promise<TokenCheck> {
  const parts = text.split('.')
  if (parts.length !== 2 || text.length > 4096) return { ok: false, reason: 'malformed' }
  let body: LeaseTokenBody
  const json = Buffer.from(parts[0] as string, 'base64url')
  try {
    body = tokenBodySchema.parse(JSON.parse(json.toString('utf8')))
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  let provider: PeerId
  try { provider = peerIdFromString(body.provider) } catch { return { ok: false, reason: 'malformed' } }
  const check = await verifyWithDomain(provider.toMultihash().bytes, DOMAIN, json, Buffer.from(parts[1] as string, 'base64url'))
  if (!check.ok) return { ok: false, reason: 'bad-signature' }
  return { ok: true, body, provider }
}
