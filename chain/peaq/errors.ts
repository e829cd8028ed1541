// How peaq's answers become the Ledger's errors. Three places can refuse a transaction:
//  - our own checks against chain state before sending (in ./calls.ts, thrown directly),
//  - the transaction pool (an RPC error `1010: Invalid Transaction: …`), before any fee is paid,
//  - the runtime, once in a block (a DispatchError: the fee is paid, nothing else happened).
// Anything that says "could not reach the node" is LedgerUnavailableError: retryable.
import { LedgerTxError, LedgerUnavailableError, type LedgerCallKind, type LedgerRejection } from '../ledger.js'

const CONNECTIVITY = /WebSocket is not connected|disconnected from|No response received from RPC endpoint|Abnormal Closure|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|socket hang up|Normal Closure|WebSocket was closed|connection (?:lost|closed)/i

/** Whether an RPC error means the node was not reachable (as opposed to an answer). */
export function isConnectivityError (err: unknown): boolean {
  return err instanceof LedgerUnavailableError || (err instanceof Error && CONNECTIVITY.test(err.message))
}

/** What to do about a pool rejection. */
export type PoolVerdict =
  | { retry: true, reason: string }
  | { retry: false, error: LedgerTxError }

/**
 * The pool refused the transaction. Nonce trouble (stale, future, a same-nonce transaction
 * already pending) is ours to fix: refresh the nonce and sign again. The rest is the caller's.
 */
export function poolVerdict (err: Error, kind: LedgerCallKind): PoolVerdict {
  const m = err.message
  if (/outdated|stale|will be valid in the future|Priority is too low|already imported|temporarily banned|1013|1014|1012/i.test(m)) {
    return { retry: true, reason: m }
  }
  let code: LedgerRejection = 'BAD_CALL'
  if (/pay some fees|balance too low|Inability to pay/i.test(m)) code = 'INSUFFICIENT_BALANCE'
  else if (/bad signature|BadProof/i.test(m)) code = 'BAD_SIGNATURE'
  else if (/BadOrigin|not allowed|filtered|Call\s*Filtered/i.test(m)) code = 'NOT_ALLOWED'
  return { retry: false, error: new LedgerTxError(code, kind, `refused by the transaction pool: ${firstLine(m)}`) }
}

/** A pallet error, as the registry names it ("peaqStorage", "ItemTypeAlreadyExists"). */
export interface ModuleErrorName { section: string, name: string, docs: string }

/**
 * Maps a failed dispatch. `duplicateErrors` lists the "already exists" errors that mean this
 * call's idempotency key was used in the meantime (a concurrent or earlier attempt won).
 */
export function dispatchRejection (kind: LedgerCallKind, error: ModuleErrorName | { other: string }, duplicateErrors: readonly string[]): LedgerTxError {
  if ('other' in error) {
    const code: LedgerRejection = /BadOrigin/.test(error.other) ? 'NOT_ALLOWED' : /Token|Arithmetic|FundsUnavailable|BelowMinimum/i.test(error.other) ? 'INSUFFICIENT_BALANCE' : 'BAD_CALL'
    return new LedgerTxError(code, kind, `failed in the block: ${error.other}`)
  }
  const id = `${error.section}.${error.name}`
  let code: LedgerRejection = 'BAD_CALL'
  if (duplicateErrors.includes(id)) code = 'DUPLICATE'
  else if (/^balances\.(InsufficientBalance|KeepAlive|ExistentialDeposit|LiquidityRestrictions|Expendability)$/.test(id)) code = 'INSUFFICIENT_BALANCE'
  else if (/AuthorizationFailed|BadOrigin/.test(error.name)) code = 'NOT_ALLOWED'
  return new LedgerTxError(code, kind, `failed in the block: ${id}${error.docs !== '' ? ` (${error.docs})` : ''}`)
}

function firstLine (s: string): string {
  return s.split('\n')[0] ?? s
}
