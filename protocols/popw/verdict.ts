// Verdicts and commitments. A verdict is signed by its checker's libp2p key under its own
// domain, so it can leave gossip (inside an Outcome) and still be checked by anyone; the
// commitment binds the signed verdict and a random salt, so it reveals nothing before the
// reveal and cannot be changed after it.
import { createHash, randomBytes } from 'node:crypto'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { signWithDomain, verifyWithDomain } from '../signing.js'
import { Commit, PopwMessage, Reveal, Verdict, VerdictResult } from './popw.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

export { Commit, PopwMessage, Reveal, Verdict, VerdictResult }

export const VERDICT_DOMAIN = 'kaisar/popw/verdict/1'
const COMMIT_DOMAIN = new TextEncoder().encode('kaisar/popw/commit/1')
export const SALT_BYTES = 32
export const COMMITMENT_BYTES = 32
/** Entries per Commit/Reveal message: keeps a message well under the topic's size limit. */
export const MAX_ENTRIES = 150
export const MAX_REASONS = 8
export const MAX_REASON_CHARS = 48
const MAX_KEY_BYTES = 64

export type Result = 'pass' | 'fail'

export function resultOf (r: VerdictResult): Result | undefined {
  return r === VerdictResult.PASS ? 'pass' : r === VerdictResult.FAIL ? 'fail' : undefined
}

export function wireResult (r: Result): VerdictResult {
  return r === 'pass' ? VerdictResult.PASS : VerdictResult.FAIL
}

/** What is signed: the verdict encoded without its signature. */
export function verdictBody (v: Verdict): Uint8Array {
  return Verdict.encode({ ...v, signature: new Uint8Array(0) })
}

/**
 * The signed body inside `encoded` (= Verdict.encode(v)), without encoding it again. The
 * signature is the last field (15, written only when not empty) and an Ed25519 one is 64
 * bytes, so its tag and length take two bytes: the body is all but the last 66. A verifier
 * needs both encodings (the body for the signature, the whole for the commitment).
 */
function signedBody (v: Verdict, encoded: Uint8Array): Uint8Array {
  return v.signature.byteLength === 64 ? encoded.subarray(0, encoded.byteLength - 66) : verdictBody(v)
}

export async function signVerdict (key: PrivateKey, v: Omit<Verdict, 'signature'>): Promise<Verdict> {
  const unsigned: Verdict = { ...v, signature: new Uint8Array(0) }
  return { ...unsigned, signature: new Uint8Array(await signWithDomain(key, VERDICT_DOMAIN, verdictBody(unsigned))) }
}

/** True when the verdict is signed by the checker it names; `encoded`: Verdict.encode(v), when the caller has it. */
export async function verifyVerdict (v: Verdict, encoded: Uint8Array = Verdict.encode(v)): Promise<boolean> {
  const check = await verifyWithDomain(v.checker, VERDICT_DOMAIN, signedBody(v, encoded), v.signature)
  return check.ok
}

export function newSalt (): Uint8Array<ArrayBuffer> {
  return new Uint8Array(randomBytes(SALT_BYTES))
}

/** `encoded`: Verdict.encode(v), when the caller has it. */
export function commitment (v: Verdict, salt: Uint8Array, encoded: Uint8Array = Verdict.encode(v)): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(COMMIT_DOMAIN).update(encoded).update(salt).digest())
}

/** Bounds a decoded verdict before anything else reads it; the reason when it is out of shape. */
export function verdictShapeError (v: Verdict): string | undefined {
  if (resultOf(v.result) == null) return 'no result'
  if (v.provider.byteLength === 0 || v.provider.byteLength > MAX_KEY_BYTES) return 'bad provider'
  if (v.checker.byteLength === 0 || v.checker.byteLength > MAX_KEY_BYTES) return 'bad checker'
  if (v.reasons.length > MAX_REASONS || v.reasons.some(r => r.length === 0 || r.length > MAX_REASON_CHARS)) return 'bad reasons'
  if (v.claimedClass.length > 64) return 'bad class'
  if (v.signature.byteLength !== 64) return 'unsigned'
  return undefined
}

/** PeerId from multihash bytes; undefined when they are not one. */
export function peerFromKey (key: Uint8Array): PeerId | undefined {
  try { return peerIdFromMultihash(Digest.decode(key)) } catch { return undefined }
}

export function keyOf (peer: PeerId): Uint8Array<ArrayBuffer> {
  return new Uint8Array(peer.toMultihash().bytes)
}

export function keyToString (key: Uint8Array): string {
  return peerFromKey(key)?.toString() ?? `0x${Buffer.from(key).toString('hex')}`
}

/** JSON view of a verdict (API, CLI, logs). */
export interface VerdictJson {
  epoch: number
  provider: string
  checker: string
  result: Result | 'unspecified'
  reasons: string[]
  rttMs: number
  bandwidthMbps: number
  challenge: { n: number, ms: number, deadlineMs: number, claimedClass: string }
  leases: { checked: number, ok: number }
  signature: string
}

export function verdictJson (v: Verdict): VerdictJson {
  return {
    epoch: Number(v.epoch),
    provider: keyToString(v.provider),
    checker: keyToString(v.checker),
    result: resultOf(v.result) ?? 'unspecified',
    reasons: v.reasons,
    rttMs: v.rttMs,
    bandwidthMbps: v.bandwidthMbps,
    challenge: { n: v.challengeN, ms: v.challengeMs, deadlineMs: v.deadlineMs, claimedClass: v.claimedClass },
    leases: { checked: v.leasesChecked, ok: v.leasesOk },
    signature: `0x${Buffer.from(v.signature).toString('hex')}`
  }
}
