// The Ledger: the one interface the rest of the node uses for money and on-chain facts.
// Two implementations: the local ledger (chain/local: a dev chain hosted by one node and
// served over /kaisar/ledger/1.0.0) and peaq (chain/peaq: @polkadot/api against a peaq node).
//
// Calls are plain data (`LedgerCall`), so the durable outbox can persist what it owes the
// chain and send it again after a restart; every call that can be retried has a natural
// idempotency key (an epoch, a lease id) the ledger refuses to apply twice.
import { KaisarError } from '../node/errors.js'
import type { TxSigner } from '../node/identity/signer.js'

/** SS58 address (Substrate style). */
export type Address = string
/** Amounts in the ledger's smallest unit (10^-decimals of one token). */
export type Amount = bigint
/** 0x-prefixed lowercase hex. */
export type Hex = `0x${string}`

export interface Transfer { to: Address, amount: Amount }
export interface Penalty { provider: Address, amount: Amount }
export interface PointsGrant { to: Address, amount: Amount }

export type LedgerCall =
  /** Moves free balance. `ref`, when given, makes it idempotent: a second transfer with the same ref from the same sender is refused. */
  | { kind: 'transfer', to: Address, amount: Amount, ref?: string }
  /**
   * Registers the signer as a provider with at least `stake` locked from its free balance
   * (a higher stake than registered locks the difference). Idempotent: already registered with
   * ≥ `stake` is a DUPLICATE.
   */
  | { kind: 'registerProvider', peerId: string, stake: Amount }
  /** Licenses the signer as a checker with at least `stake` locked; idempotent like registerProvider. */
  | { kind: 'licenseChecker', peerId: string, stake: Amount }
  /**
   * Escrow for a lease, paid by the signer (the user): `amount` is locked; the provider is paid
   * `pricePerHour` pro rata for time served when the lease closes, the rest returns to the user.
   * One deposit per lease id.
   */
  | { kind: 'deposit', leaseId: string, provider: Address, amount: Amount, pricePerHour: Amount, maxSeconds: number }
  /** Starts the paid time of a lease (the provider, once the container is deployed). */
  | { kind: 'startLease', leaseId: string }
  /** Ends a lease: by the user (cancel) or the provider (expiry, failure). Pays time served, refunds the rest. Once per lease. */
  | { kind: 'closeLease', leaseId: string, reason: 'cancelled' | 'expired' | 'failed' }
  /**
   * One settlement per epoch (DESIGN §1.4): the Merkle root of the epoch's outcomes plus the
   * reward, penalty and points transfers. Submitted by a licensed checker; a second settlement
   * for the same epoch is refused. Cost does not grow with the number of outcomes.
   * `dissenters`: checkers that revealed against an outcome this epoch; each gets a strike, and
   * a checker with `maxDissentStrikes` strikes within `dissentWindowEpochs` loses its eligibility.
   */
  | { kind: 'settleEpoch', epoch: number, outcomeRoot: Hex, outcomeCount: number, rewards: Transfer[], penalties: Penalty[], points: PointsGrant[], dissenters?: Address[] }
  /** Devnet only: mints `amount` to the signer (bounded per call). */
  | { kind: 'faucet', amount: Amount }

export type LedgerCallKind = LedgerCall['kind']

export interface TxReceipt {
  txHash: Hex
  /** Block (height) the transaction is in. */
  height: number
  blockHash: Hex
}

export interface ChainHead { height: number, hash: Hex, timestamp: number }

export interface AccountInfo {
  address: Address
  free: Amount
  /** Locked as provider stake, checker stake or lease escrow. */
  locked: Amount
  nonce: number
  /** Refunds in points (DESIGN §1.7): credited when a user's lease time fell in failed epochs. */
  points: Amount
}

export interface ProviderRegistration { address: Address, peerId: string, stake: Amount, registeredAt: number }
export interface CheckerLicence {
  address: Address
  peerId: string
  stake: Amount
  licensedAt: number
  eligible: boolean
  /** Height of the settlement that took the eligibility away (undefined while eligible). */
  ineligibleAt?: number
  /** Epochs (the most recent ones) in which this checker dissented from an outcome. */
  dissentEpochs?: number[]
}

export interface LeaseEscrow {
  leaseId: string
  user: Address
  provider: Address
  amount: Amount
  pricePerHour: Amount
  maxSeconds: number
  /** Ms timestamps (ledger clock); undefined until started / closed. */
  startedAt?: number
  closedAt?: number
  status: 'funded' | 'running' | 'closed'
  paidToProvider: Amount
  refunded: Amount
  closeReason?: 'cancelled' | 'expired' | 'failed'
}

export interface EpochSettlement {
  epoch: number
  outcomeRoot: Hex
  outcomeCount: number
  submitter: Address
  height: number
  rewards: Transfer[]
  penalties: Penalty[]
  points: PointsGrant[]
  dissenters?: Address[]
}

/**
 * A new head. `txCount` counts the transactions since the previous event: one block's on peaq and on the
 * local ledger's host, every block's since the previous announcement on a node that follows the host
 * over gossip (announcements are spaced, node/ledger/node-ledger.ts).
 */
export type LedgerEvent =
  | { kind: 'block', head: ChainHead, txCount: number }

/**
 * One page of the registry (providers' registrations and checkers' licences) for a node that keeps
 * its own copy: the records changed after a block it already has, or all of them. Records are
 * current, as of block `height` or a later one; a node that has them asks for the changes since
 * `height` next time, so it reads each change about once instead of the whole registry each epoch.
 */
export interface RegistryPage {
  /** The records are current as of this block or a later one. */
  height: number
  /** The pages hold the whole registry, not the changes: whatever the asker had is replaced. */
  full: boolean
  providers: ProviderRegistration[]
  checkers: CheckerLicence[]
  /** More pages follow: ask again with the same `since` and this cursor (each sorts after the last). */
  cursor?: string
}

/** A role as the ledger knows it, for a peer id (used to check gossip senders' roles). */
export interface PeerRegistration { role: 'provider' | 'checker', address: Address, stake: Amount, eligible: boolean }

export interface Ledger {
  readonly kind: 'local' | 'peaq'
  readonly symbol: string
  readonly decimals: number

  /** Signs `call` with `wallet` and waits until it is in a block (or refused). */
  submit: (wallet: TxSigner, call: LedgerCall, options?: { signal?: AbortSignal }) => Promise<TxReceipt>

  head: () => Promise<ChainHead>
  account: (address: Address) => Promise<AccountInfo>
  provider: (address: Address) => Promise<ProviderRegistration | undefined>
  checker: (address: Address) => Promise<CheckerLicence | undefined>
  registration: (peerId: string) => Promise<PeerRegistration | undefined>
  escrow: (leaseId: string) => Promise<LeaseEscrow | undefined>
  /** Every registered provider / licensed checker (eligible or not): who is checked, who checks (Proof of Physical Work). */
  providers: () => Promise<ProviderRegistration[]>
  checkers: () => Promise<CheckerLicence[]>
  /**
   * The registrations and licences changed after block `since` (all of them when `since` is
   * undefined, or when the ledger cannot tell what changed: then `full` is set), one bounded page
   * at a time; `cursor` continues a page's successor.
   */
  registryChanges: (since?: number, cursor?: string) => Promise<RegistryPage>
  /** The escrows of `provider`'s leases, open and closed: whose lease time fell in a failed epoch. */
  leasesOf: (provider: Address) => Promise<LeaseEscrow[]>
  settlement: (epoch: number) => Promise<EpochSettlement | undefined>
  /**
   * Randomness nobody chooses: derived from the hash of the last block at or before
   * `timestamp` (ms). Rejects with LEDGER_NOT_YET while the chain has not reached it.
   */
  seedAt: (timestamp: number) => Promise<{ seed: Hex, height: number }>
  /** Calls `listener` for each new block; returns the unsubscribe function. */
  subscribe: (listener: (event: LedgerEvent) => void) => () => void
  close: () => Promise<void>
}

/** Why a transaction was refused. Not retryable: sending it again gives the same answer. */
export type LedgerRejection =
  | 'BAD_SIGNATURE'
  | 'BAD_NONCE'
  | 'NONCE_REPLAYED'
  | 'INSUFFICIENT_BALANCE'
  | 'WRONG_ROLE'
  | 'DUPLICATE'
  | 'UNKNOWN_LEASE'
  | 'BAD_CALL'
  | 'NOT_ALLOWED'

export class LedgerTxError extends KaisarError<{ code: LedgerRejection, call: LedgerCallKind }> {
  /** The reason without the call prefix, e.g. "free balance 5 < 7". */
  readonly detail: string
  constructor (code: LedgerRejection, call: LedgerCallKind, detail: string) {
    super({ code, call }, `${call}: ${detail}`)
    this.detail = detail
  }
}

export const LEDGER_REJECTIONS: readonly LedgerRejection[] = ['BAD_SIGNATURE', 'BAD_NONCE', 'NONCE_REPLAYED', 'INSUFFICIENT_BALANCE', 'WRONG_ROLE', 'DUPLICATE', 'UNKNOWN_LEASE', 'BAD_CALL', 'NOT_ALLOWED']

/** The ledger could not be reached or did not answer: retry later (the outbox does). */
export class LedgerUnavailableError extends KaisarError<{ code: 'LEDGER_UNAVAILABLE' | 'LEDGER_NOT_YET' }> {
  constructor (message: string, code: 'LEDGER_UNAVAILABLE' | 'LEDGER_NOT_YET' = 'LEDGER_UNAVAILABLE') {
    super({ code }, message)
  }
}

export function isRetryable (err: unknown): boolean {
  return err instanceof LedgerUnavailableError
}

/**
 * The pages of one `registryChanges(since)` round, following the cursors. A cursor that does not
 * sort after the one it answered would page forever: that host is not to be read.
 */
export async function * registryPages (ledger: Pick<Ledger, 'registryChanges'>, since?: number): AsyncGenerator<RegistryPage> {
  let page = await ledger.registryChanges(since)
  yield page
  while (page.cursor !== undefined) {
    const asked = page.cursor
    page = await ledger.registryChanges(since, asked)
    if (page.cursor !== undefined && page.cursor <= asked) throw new LedgerUnavailableError(`the registry's pages went back: cursor ${page.cursor.slice(0, 80)} after ${asked.slice(0, 80)}`)
    yield page
  }
}

/** Every registered provider and licensed checker, read in bounded pages. */
export async function wholeRegistry (ledger: Pick<Ledger, 'registryChanges'>): Promise<{ providers: ProviderRegistration[], checkers: CheckerLicence[] }> {
  const providers: ProviderRegistration[] = []
  const checkers: CheckerLicence[] = []
  for await (const page of registryPages(ledger)) {
    providers.push(...page.providers)
    checkers.push(...page.checkers)
  }
  return { providers, checkers }
}
