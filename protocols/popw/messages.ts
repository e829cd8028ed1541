// The direct-stream messages of Proof of Physical Work, as zod schemas (JSON frames, length
// prefixed, validated on receipt by both sides):
//
//  /kaisar/challenge/1.0.0 (served by providers), one request per stream:
//    { op: 'challenge', nonce, n, deadlineMs } → { ok, root }  then  { op: 'open', rows } → { ok, rows }
//    { op: 'ping' }                              → { ok }           liveness, round-trip time
//    { op: 'record' }                            → { ok, record }   the provider's signed ProviderRecord
//    { op: 'leases', epoch, leaseIds }           → { ok, leases }   each lease's status, a checker token for running ones
//  /kaisar/outcomes/1.0.0 (served by checkers and gateways):
//    { epoch }                                   → { epoch, outcomes }  an epoch's outcomes (protobuf, base64)
//    { recent: n }                               → { epochs: [{ epoch, outcomes }] }  the n newest settled epochs
import { z } from 'zod'
import { N_MAX, N_MIN, NONCE_BYTES, OPEN_ROWS } from './challenge.js'

const hex32 = z.string().regex(/^0x[0-9a-f]{64}$/, 'must be 0x + 64 hex digits')
const base64 = (maxChars: number): z.ZodString => z.string().max(maxChars).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64')

export const challengeRequestSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('challenge'),
    nonce: z.string().regex(new RegExp(`^0x[0-9a-f]{${NONCE_BYTES * 2}}$`)),
    n: z.number().int().min(N_MIN).max(N_MAX),
    /** The checker's deadline for the root: past it the provider may stop working. */
    deadlineMs: z.number().int().min(1).max(120_000)
  }).strict(),
  /** Liveness and round-trip time (libp2p's own ping loses a reply now and then under concurrency, in 3.1). */
  z.object({ op: z.literal('ping') }).strict(),
  z.object({ op: z.literal('record') }).strict(),
  /** The leases the ledger says run here: the provider answers for each, with a checker token for running ones. */
  z.object({ op: z.literal('leases'), epoch: z.number().int().min(0), leaseIds: z.array(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/)).max(256) }).strict()
])
export type ChallengeRequest = z.infer<typeof challengeRequestSchema>

export const openRequestSchema = z.object({
  op: z.literal('open'),
  rows: z.array(z.number().int().min(0).max(N_MAX - 1)).min(1).max(OPEN_ROWS)
}).strict()

const refusal = z.object({ ok: z.literal(false), code: z.string().max(64), message: z.string().max(500) }).strict()

export const rootReplySchema = z.union([z.object({ ok: z.literal(true), root: hex32 }).strict(), refusal])

export const rowsReplySchema = z.union([
  z.object({
    ok: z.literal(true),
    rows: z.array(z.object({
      index: z.number().int().min(0).max(N_MAX - 1),
      data: base64(Math.ceil(N_MAX * 4 / 3) + 4),
      proof: z.array(hex32).max(16)
    }).strict()).max(OPEN_ROWS)
  }).strict(),
  refusal
])

export const pongSchema = z.union([z.object({ ok: z.literal(true) }).strict(), refusal])

export const recordReplySchema = z.union([z.object({ ok: z.literal(true), record: base64(24 * 1024) }).strict(), refusal])

export const leasesReplySchema = z.union([
  z.object({
    ok: z.literal(true),
    leases: z.array(z.object({
      leaseId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
      status: z.enum(['accepted', 'deploying', 'running', 'failed', 'stopped', 'unknown']),
      ports: z.array(z.number().int().min(1).max(65535)).max(64),
      endedAt: z.number().int().optional(),
      token: z.string().max(4096).optional()
    }).strict()).max(256)
  }).strict(),
  refusal
])
export type LeasesReply = z.infer<typeof leasesReplySchema>

/** Most settled epochs one `{ recent }` request returns: what a scheduler's score history needs. */
export const RECENT_EPOCHS_MAX = 16
export const outcomesRequestSchema = z.union([
  z.object({ epoch: z.number().int().min(0) }).strict(),
  z.object({ recent: z.number().int().min(1).max(RECENT_EPOCHS_MAX) }).strict()
])
export type OutcomesRequest = z.infer<typeof outcomesRequestSchema>
export const outcomesReplySchema = z.object({
  epoch: z.number().int().min(0),
  outcomes: z.array(base64(64 * 1024)).max(100_000)
}).strict()
export const recentOutcomesReplySchema = z.object({ epochs: z.array(outcomesReplySchema).max(RECENT_EPOCHS_MAX) }).strict()
