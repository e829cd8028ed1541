// The lease protocols' messages (DESIGN §1.5, §2), as zod schemas: JSON frames, length
// prefixed, validated on receipt by both sides.
//  /kaisar/bid/1.0.0     request { order } → quote
//  /kaisar/lease/1.0.0   one request, then a stream of events until the provider closes
//  /kaisar/tunnel/1.0.0  one header { token, port } → { ok } then raw bytes both ways
import { z } from 'zod'
import { canonicalJson } from '../../chain/local/codec.js'

const leaseId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'lease ids are 1-64 of A-Z a-z 0-9 _ -')
/** Decimal string of a ledger amount in its smallest unit. */
const amount = z.string().regex(/^\d{1,38}$/)

export const orderSchema = z.object({
  image: z.string().min(1).max(256).regex(/^[a-zA-Z0-9][a-zA-Z0-9._\-/:@]*$/, 'not an image reference'),
  cmd: z.array(z.string().max(4096)).max(64).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(4096)).optional(),
  cpus: z.number().positive().max(1024),
  memoryBytes: z.number().int().min(4 * 2 ** 20).max(2 ** 44),
  gpus: z.number().int().min(0).max(16),
  gpuModel: z.string().regex(/^[a-z0-9-]+$/).optional(),
  ports: z.array(z.number().int().min(1).max(65535)).max(16),
  /** Lease length; the escrow must cover it. */
  seconds: z.number().int().min(60).max(366 * 86400)
}).strict()
export type Order = z.infer<typeof orderSchema>

export const bidRequestSchema = z.object({ order: orderSchema }).strict()

export const quoteSchema = z.object({
  provider: z.string(),
  wallet: z.string(),
  /** Smallest units per hour for the whole order. */
  pricePerHour: amount,
  symbol: z.string(),
  decimals: z.number().int(),
  /** Whether it can run the order now; `reason` when not. */
  available: z.boolean(),
  reason: z.string().optional(),
  free: z.object({ cpus: z.number(), memoryBytes: z.number(), gpus: z.number() })
}).strict()
export type Quote = z.infer<typeof quoteSchema>

export const leaseRequestSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('create'),
    leaseId,
    order: orderSchema,
    /** The paying wallet (the escrow's user). */
    user: z.string().max(64),
    /** The wallet's signature over leaseCreatePayload(...): binds the order and the requesting peer to the payer. */
    signature: z.string().regex(/^0x[0-9a-f]{128}$/),
    /** More peers the lease token opens tunnels for (the gateways whose HTTP ingress the user may use). */
    holders: z.array(z.string().max(128)).max(4).optional()
  }).strict(),
  z.object({ op: z.literal('status'), leaseId }).strict(),
  z.object({ op: z.literal('cancel'), leaseId }).strict(),
  z.object({ op: z.literal('logs'), leaseId, tail: z.number().int().min(0).max(100_000).optional(), follow: z.boolean().optional() }).strict()
])
export type LeaseRequest = z.infer<typeof leaseRequestSchema>

/** What the paying wallet signs: canonical JSON (sorted keys), so both sides hash the same bytes whatever the field order. */
export function leaseCreatePayload (leaseId: string, order: Order, userPeer: string, provider: string): string {
  return `kaisar-lease-create/1\n${leaseId}\n${provider}\n${userPeer}\n${canonicalJson(order)}`
}

export type LeaseStatus = 'accepted' | 'deploying' | 'running' | 'failed' | 'stopped'

export const leaseEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('accepted'), leaseId }),
  z.object({ event: z.literal('pulling'), leaseId, status: z.string(), currentBytes: z.number(), totalBytes: z.number() }),
  z.object({ event: z.literal('deploying'), leaseId, message: z.string() }),
  z.object({ event: z.literal('deployed'), leaseId, message: z.string(), ports: z.array(z.number().int()), token: z.string(), expiresAt: z.number() }),
  z.object({ event: z.literal('failed'), leaseId, code: z.string(), reason: z.string() }),
  z.object({ event: z.literal('stopped'), leaseId, reason: z.string() }),
  z.object({ event: z.literal('status'), leaseId, status: z.enum(['accepted', 'deploying', 'running', 'failed', 'stopped']), ports: z.array(z.number().int()), expiresAt: z.number().optional(), reason: z.string().optional() }),
  z.object({ event: z.literal('log'), leaseId, stream: z.enum(['stdout', 'stderr']), data: z.string() }),
  z.object({ event: z.literal('error'), code: z.string(), message: z.string() })
])
export type LeaseEvent = z.infer<typeof leaseEventSchema>

export const tunnelHeaderSchema = z.object({ token: z.string().max(4096), port: z.number().int().min(1).max(65535) }).strict()
export const tunnelReplySchema = z.union([
  z.object({ ok: z.literal(true) }).strict(),
  z.object({ ok: z.literal(false), code: z.string(), message: z.string() }).strict()
])

export const DEPLOYING_MESSAGE = 'Container is deploying…'
export const DEPLOYED_MESSAGE = 'Your container has been deployed successfully'
