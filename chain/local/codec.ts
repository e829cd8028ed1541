// The local ledger's transaction format: canonical JSON (sorted keys, amounts as decimal
// strings) validated by one zod schema on receipt, signed by the sender's wallet (sr25519 or
// ed25519) over a payload bound to the chain's genesis hash (no cross-chain replay).
import { peerIdFromString } from '@libp2p/peer-id'
import { u8aToHex } from '@polkadot/util'
import { blake2AsHex, decodeAddress, sr25519Verify } from '@polkadot/util-crypto'
import { z } from 'zod'
import type { Hex, LedgerCall } from '../ledger.js'
import { verifyEd25519, type SignatureScheme, type TxSigner } from '../../node/identity/signer.js'

/** JSON with object keys sorted at every level: one byte string per value. */
export function canonicalJson (value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString()
    if (v != null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v).sort().map(k => [k, (v as Record<string, unknown>)[k]]))
    }
    return v
  })
}

export const MAX_LIST = 10_000

const address = z.string().max(64).refine(v => { try { decodeAddress(v); return true } catch { return false } }, 'not an SS58 address')
const amount = z.string().regex(/^\d{1,38}$/, 'not a non-negative integer amount').transform(v => BigInt(v))
const positive = amount.refine(v => v > 0n, 'must be greater than zero')
const peerId = z.string().max(128).refine(v => { try { peerIdFromString(v); return true } catch { return false } }, 'not a peer id')
const leaseId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'lease ids are 1-64 of A-Z a-z 0-9 _ -')
const hex32 = z.string().regex(/^0x[0-9a-f]{64}$/, 'must be 0x + 64 hex digits') as z.ZodType<Hex>

export const callSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('transfer'), to: address, amount: positive, ref: z.string().min(1).max(128).optional() }).strict(),
  z.object({ kind: z.literal('registerProvider'), peerId, stake: positive }).strict(),
  z.object({ kind: z.literal('licenseChecker'), peerId, stake: positive }).strict(),
  z.object({ kind: z.literal('deposit'), leaseId, provider: address, amount: positive, pricePerHour: amount, maxSeconds: z.number().int().min(1).max(366 * 86400) }).strict(),
  z.object({ kind: z.literal('startLease'), leaseId }).strict(),
  z.object({ kind: z.literal('closeLease'), leaseId, reason: z.enum(['cancelled', 'expired', 'failed']) }).strict(),
  z.object({
    kind: z.literal('settleEpoch'),
    epoch: z.number().int().min(0),
    outcomeRoot: hex32,
    outcomeCount: z.number().int().min(0),
    rewards: z.array(z.object({ to: address, amount: positive }).strict()).max(MAX_LIST),
    penalties: z.array(z.object({ provider: address, amount: positive }).strict()).max(MAX_LIST),
    points: z.array(z.object({ to: address, amount: positive }).strict()).max(MAX_LIST),
    dissenters: z.array(address).max(MAX_LIST).optional()
  }).strict(),
  z.object({ kind: z.literal('faucet'), amount: positive }).strict()
])

export const signedTxSchema = z.object({
  signer: address,
  scheme: z.enum(['sr25519', 'ed25519']),
  nonce: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  call: callSchema,
  signature: z.string().regex(/^0x[0-9a-f]{128}$/, 'must be a 64-byte hex signature')
}).strict()

export interface SignedTx { signer: string, scheme: SignatureScheme, nonce: number, call: LedgerCall, signature: Hex }

/** Parses untrusted input into a SignedTx; throws a zod error naming the bad field. */
export function parseSignedTx (input: unknown): SignedTx {
  return signedTxSchema.parse(input) as SignedTx
}

/** JSON form (bigints as strings) for the wire and the store. */
export function txToJson (tx: SignedTx): unknown {
  return JSON.parse(canonicalJson(tx))
}

export function signingPayload (genesisHash: Hex, signer: string, scheme: SignatureScheme, nonce: number, call: LedgerCall): string {
  return `kaisar-ledger/1\n${genesisHash}\n${canonicalJson({ signer, scheme, nonce, call })}`
}

export class UnsupportedSchemeError extends Error {}

export function signTx (wallet: TxSigner, genesisHash: Hex, nonce: number, call: LedgerCall): SignedTx {
  if (wallet.type !== 'sr25519' && wallet.type !== 'ed25519') throw new UnsupportedSchemeError(`wallets of type ${wallet.type} cannot sign ledger transactions (sr25519 or ed25519)`)
  const scheme = wallet.type
  const signature = u8aToHex(wallet.sign(signingPayload(genesisHash, wallet.address, scheme, nonce, call))) as Hex
  return { signer: wallet.address, scheme, nonce, call, signature }
}

/** Checks the signature with the scheme the transaction names (the scheme is signed too). */
export function verifyTx (genesisHash: Hex, tx: SignedTx): boolean {
  try {
    const message = signingPayload(genesisHash, tx.signer, tx.scheme, tx.nonce, tx.call)
    const publicKey = decodeAddress(tx.signer)
    const signature = Buffer.from(tx.signature.slice(2), 'hex')
    return tx.scheme === 'ed25519' ? verifyEd25519(message, signature, publicKey) : sr25519Verify(message, signature, publicKey)
  } catch {
    return false
  }
}

export function txHash (tx: SignedTx): Hex {
  return blake2AsHex(canonicalJson(tx), 256) as Hex
}

/** The idempotency key of a call, if it has one: the ledger refuses a second call with the same key. */
export function idempotencyKey (signer: string, call: LedgerCall): string | undefined {
  switch (call.kind) {
    case 'transfer': return call.ref != null ? `transfer/${signer}/${call.ref}` : undefined
    case 'deposit': return `deposit/${call.leaseId}`
    case 'startLease': return `start/${call.leaseId}`
    case 'closeLease': return `close/${call.leaseId}`
    case 'settleEpoch': return `settle/${call.epoch}`
    default: return undefined
  }
}
