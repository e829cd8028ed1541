// The Ledger on peaq: submit = plan against chain state (./calls.ts) → sign with a tracked
// nonce and a mortal era → send → wait until in a block; queries read chain state (./state.ts).
//
// Failure modes, and what the caller sees:
//  - node unreachable / not answering: LedgerUnavailableError at once or after the request
//    deadline, never a hang (retryable);
//  - connection lost, deadline or abort after the transaction was sent: LedgerUnavailableError
//    saying it may still be included. Sending the same keyed call again is safe: the plan finds
//    the key used on chain and refuses with DUPLICATE, or the chain refuses the second one;
//  - refused (by our checks, the pool or the runtime): LedgerTxError with the Ledger's codes.
import { u8aConcat } from '@polkadot/util'
import { decodeAddress } from '@polkadot/util-crypto'
import { LedgerTxError, LedgerUnavailableError, type AccountInfo, type Address, type ChainHead, type CheckerLicence, type EpochSettlement, type Hex, type LeaseEscrow, type Ledger, type LedgerCall, type LedgerEvent, type PeerRegistration, type ProviderRegistration, type RegistryPage, type TxReceipt } from '../ledger.js'
import { errorMessage } from '../../node/errors.js'
import { Custody } from './accounts.js'
import { Planner, type Plan } from './calls.js'
import { Names, type AccountId } from './codec.js'
import { dispatchRejection, isConnectivityError, poolVerdict } from './errors.js'
import { KeyedMutex, NonceTracker } from './nonces.js'
import { PeaqState } from './state.js'
import type { Extrinsic, PeaqRuntime } from './runtime.js'
import type { TxSigner } from '../../node/identity/signer.js'
import type { Logger } from '../../node/log.js'
import type { SubmittableResult } from '@polkadot/api'
import type { ISubmittableResult, IKeyringPair } from '@polkadot/types/types'

export interface PeaqLedgerParams {
  escrow: Address
  namespace: string
  eraPeriod: number
  inclusionTimeoutMs: number
  minProviderStake: bigint
  minCheckerStake: bigint
  logger: Logger
}

/** A TxSigner as polkadot-js signs with it (MultiSignature: the scheme's byte, then the signature). */
function keyringPairOf (wallet: TxSigner, kind: LedgerCall['kind']): IKeyringPair {
  const scheme = wallet.type === 'ed25519' ? 0 : wallet.type === 'sr25519' ? 1 : undefined
  if (scheme == null) throw new LedgerTxError('BAD_SIGNATURE', kind, `wallets of type ${wallet.type} cannot sign peaq transactions (sr25519 or ed25519)`)
  return {
    address: wallet.address,
    addressRaw: wallet.publicKey,
    publicKey: wallet.publicKey,
    sign: (data, options) => options?.withType === true ? u8aConcat(Uint8Array.of(scheme), wallet.sign(data)) : wallet.sign(data)
  }
}

const MAX_NONCE_RETRIES = 3
/** Times a transaction the pool dropped unapplied is planned and sent again. */
const MAX_RESENDS = 2

/**
 * The pool accepted a transaction, then dropped it without applying it (Invalid, Dropped,
 * Usurped): e.g. chopsticks drops one that does not fit the block it is building
 * (`ExhaustsResources`) where a node would keep it for the next. Sending it again is safe.
 */
export class TxDroppedError extends LedgerUnavailableError {}

export class PeaqLedger implements Ledger {
  readonly kind = 'peaq' as const
  readonly symbol: string
  readonly decimals: number
  /** The custody account: holds stakes, lease escrows and the reward pool, signs payouts. */
  readonly escrowAccount: Address

  private readonly rt: PeaqRuntime
  private readonly params: PeaqLedgerParams
  private readonly log: Logger
  private readonly custody: Custody
  private readonly state: PeaqState
  private readonly planner: Planner
  private readonly locks = new KeyedMutex()
  private readonly nonces = new NonceTracker()
  /** Rejecters of transactions sent and not yet in a block: failed on disconnect and close. */
  private readonly inFlight = new Set<(err: Error) => void>()
  private readonly listeners = new Set<(e: LedgerEvent) => void>()
  private readonly offs: Array<() => void> = []
  private headsUnsub?: Promise<(() => void) | undefined>
  private closed = false

  constructor (rt: PeaqRuntime, params: PeaqLedgerParams) {
    this.rt = rt
    this.params = params
    this.log = params.logger
    this.symbol = rt.symbol
    this.decimals = rt.decimals
    const names = new Names(params.namespace)
    this.custody = new Custody(params.escrow, params.namespace)
    this.state = new PeaqState(rt, this.custody, names)
    this.escrowAccount = this.state.address(this.custody.escrow)
    this.planner = new Planner(rt, this.state, this.custody, names, { minProviderStake: params.minProviderStake, minCheckerStake: params.minCheckerStake })
    this.offs.push(rt.onDisconnect(() => { this.onDisconnect() }))
    this.offs.push(rt.onConnect(() => { this.onReconnect() }))
  }

  /** Address of the custody account holding `leaseId`'s escrow (anyone can check its balance). */
  leaseAccount (leaseId: string): Address { return this.state.address(this.custody.lease(leaseId)) }
  /** Address of the custody account holding `address`'s stake as a provider or checker. */
  stakeAccount (role: 'provider' | 'checker', address: Address): Address { return this.state.address(this.custody.stake(role, decodeAddress(address))) }

  async submit (wallet: TxSigner, call: LedgerCall, options: { signal?: AbortSignal } = {}): Promise<TxReceipt> {
    if (this.closed) throw new LedgerUnavailableError('the peaq ledger is closed')
    options.signal?.throwIfAborted()
    const pair = keyringPairOf(wallet, call.kind)
    const signer = decodeAddress(wallet.address)
    // Planning, signing and sending are serialised per account (so nonces are handed out in
    // order and a second copy of a call sees the first); waiting for the block is not.
    for (let resend = 0; ; resend++) {
      const t0 = performance.now()
      let planned = 0
      const sent = await this.locks.run(wallet.address, async () => {
        const plan = await this.planner.plan(signer, call)
        planned = performance.now()
        return await this.send(pair, signer, call, plan)
      })
      const accepted = performance.now()
      try {
        const receipt = await this.included(sent, call, options.signal)
        this.log.debug({ call: call.kind, txHash: receipt.txHash, height: receipt.height, planMs: Math.round(planned - t0), sendMs: Math.round(accepted - planned), blockMs: Math.round(performance.now() - accepted) }, 'peaq: in a block')
        return receipt
      } catch (err) {
        if (!(err instanceof TxDroppedError) || resend >= MAX_RESENDS || options.signal?.aborted === true) throw err
        // Not applied, so planning it again (the keyed check included) and resending is safe.
        this.log.debug({ call: call.kind, txHash: sent.txHash, err: err.message }, 'peaq: dropped by the pool unapplied, sending again')
      }
    }
  }

  private async send (pair: IKeyringPair, signer: AccountId, call: LedgerCall, plan: Plan): Promise<Sent> {
    for (let attempt = 1; ; attempt++) {
      const nonce = await this.nonces.take(pair.address, async () => await this.rt.nextIndex(pair.address))
      const head = await this.rt.bestHeader()
      const tx = plan.build({ refHeight: head.height, eraPeriod: this.params.eraPeriod })
      const era = this.rt.api.registry.createType('ExtrinsicEra', { current: head.height, period: this.params.eraPeriod })
      await tx.signAsync(pair, { nonce, era, blockHash: head.hash })
      await this.checkFunds(signer, call, plan, tx)
      try {
        const sent = await this.watch(tx, pair.address, nonce)
        this.nonces.used(pair.address, nonce)
        return { ...sent, plan }
      } catch (err) {
        this.nonces.forget(pair.address)
        if (err instanceof LedgerUnavailableError) {
          throw new LedgerUnavailableError(`${call.kind}: sending transaction ${tx.hash.toHex()} (nonce ${nonce}) failed: ${err.message}; it may have reached the pool, so send the call again: a keyed call is checked against the chain first`)
        }
        const verdict = poolVerdict(err as Error, call.kind)
        if (!verdict.retry) throw verdict.error
        if (attempt >= MAX_NONCE_RETRIES) throw new LedgerUnavailableError(`${call.kind}: the pool kept refusing nonce ${nonce} of ${pair.address}: ${verdict.reason}`)
        this.log.debug({ call: call.kind, nonce, reason: verdict.reason }, 'peaq: nonce refused, signing again with a fresh one')
      }
    }
  }

  /** Refuses early (no fee spent) what the chain would refuse for lack of funds. */
  private async checkFunds (signer: AccountId, call: LedgerCall, plan: Plan, tx: Extrinsic): Promise<void> {
    const [account, fee] = await Promise.all([
      this.rt.account(signer),
      this.rt.rpc('transactionPaymentApi.queryInfo', async () => (await this.rt.api.call.transactionPaymentApi?.queryInfo?.(tx.toU8a(), tx.encodedLength)) as unknown)
    ])
    const partialFee = (fee as { partialFee?: { toBigInt?: () => bigint } } | undefined)?.partialFee?.toBigInt?.() ?? 0n
    const needed = plan.spend + partialFee + this.rt.existentialDeposit
    if (account.free < needed) {
      throw new LedgerTxError('INSUFFICIENT_BALANCE', call.kind, `free balance ${account.free} < ${plan.spend} + fee ${partialFee} + existential deposit ${this.rt.existentialDeposit}`)
    }
  }

  /** Sends `tx` and resolves once the pool accepted it; `result` settles when it is in a block. */
  private async watch (tx: Extrinsic, address: string, nonce: number): Promise<Omit<Sent, 'plan'>> {
    let settle!: { resolve: (r: ISubmittableResult) => void, reject: (e: Error) => void }
    const result = new Promise<ISubmittableResult>((resolve, reject) => { settle = { resolve, reject } })
    result.catch(() => {}) // observed by included(); never an unhandled rejection
    const txHash = tx.hash.toHex()
    const unsub = await this.rt.rpc('author_submitAndWatchExtrinsic', async () => await tx.send(r => {
      if (r.status.isInBlock || r.status.isFinalized) settle.resolve(r)
      else if (r.status.isInvalid || r.status.isDropped || r.status.isUsurped) {
        this.nonces.forget(address)
        settle.reject(new TxDroppedError(`transaction ${txHash} was dropped by the pool (${r.status.type}) and not applied`))
      }
    }))
    return { txHash: txHash as Hex, nonce, result, unsub }
  }

  private async included (sent: Sent, call: LedgerCall, signal?: AbortSignal): Promise<TxReceipt> {
    const ambiguous = (why: string): LedgerUnavailableError => new LedgerUnavailableError(
      `${call.kind}: ${why} after sending transaction ${sent.txHash} (nonce ${sent.nonce}); it may still be included, so send the call again: ` +
      'a keyed call (deposit, start, close, settlement, registration, transfer with a ref) is checked against the chain first and is not applied twice')
    let reject!: (err: Error) => void
    const guard = new Promise<never>((_resolve, rej) => { reject = rej })
    const timer = setTimeout(() => { reject(ambiguous(`no block within ${this.params.inclusionTimeoutMs} ms`)) }, this.params.inclusionTimeoutMs)
    const onAbort = (): void => { reject(signal?.reason instanceof Error ? signal.reason : ambiguous('aborted')) }
    const onLost = (err: Error): void => { reject(err instanceof LedgerUnavailableError ? ambiguous(err.message) : err) }
    signal?.addEventListener('abort', onAbort, { once: true })
    this.inFlight.add(onLost)
    let r: ISubmittableResult
    try {
      r = await Promise.race([sent.result, guard])
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      this.inFlight.delete(onLost)
      try { sent.unsub() } catch { /* the subscription is gone with the connection */ }
    }
    const blockHash = (r.status.isInBlock ? r.status.asInBlock : r.status.asFinalized).toHex()
    if (r.internalError != null) throw ambiguous(`in block ${blockHash}, but its events could not be read (${r.internalError.message})`)
    if (r.dispatchError != null) {
      const err = dispatchRejection(call.kind, this.rt.describeError(r.dispatchError), sent.plan.duplicateErrors)
      // "Already exists" is a duplicate only if it is this call's key that is now used.
      if (err.code === 'DUPLICATE' && sent.plan.applied != null && !await sent.plan.applied()) throw new LedgerTxError('BAD_CALL', call.kind, err.detail)
      throw err
    }
    const height = (r as SubmittableResult).blockNumber?.toNumber() ?? (await this.rt.rpc('chain_getHeader', async () => await this.rt.api.rpc.chain.getHeader(blockHash))).number.toNumber()
    return { txHash: sent.txHash, height, blockHash }
  }

  private onDisconnect (): void {
    // What was waiting for a block will not hear of it on this connection (WsProvider does not
    // resubscribe `author_*`), and the node may have lost its pool: fail them now, recount nonces.
    this.nonces.forget()
    if (this.inFlight.size > 0) this.log.warn({ url: this.rt.url, inFlight: this.inFlight.size }, 'peaq: connection lost with transactions in flight')
    for (const reject of [...this.inFlight]) reject(new LedgerUnavailableError(`connection to ${this.rt.url} lost`))
  }

  private onReconnect (): void {
    this.nonces.forget()
    this.log.info({ url: this.rt.url }, 'peaq: connected')
  }

  // ---- queries ---------------------------------------------------------------------------

  async head (): Promise<ChainHead> { return await this.state.head() }
  async account (address: Address): Promise<AccountInfo> { return await this.state.account(decodeAddress(address)) }
  async provider (address: Address): Promise<ProviderRegistration | undefined> { return await this.state.provider(decodeAddress(address)) }
  async checker (address: Address): Promise<CheckerLicence | undefined> { return await this.state.checker(decodeAddress(address)) }
  async registration (peerId: string): Promise<PeerRegistration | undefined> { return await this.state.registration(peerId) }
  async escrow (leaseId: string): Promise<LeaseEscrow | undefined> { return await this.state.escrow(leaseId) }
  async providers (): Promise<ProviderRegistration[]> { return await this.state.providers() }
  async checkers (): Promise<CheckerLicence[]> { return await this.state.checkers() }

  /**
   * peaq keeps no index of what changed in which block, so every answer is the whole registry
   * (`full`), read after the head so the records are current as of it. One page: the registry is
   * read from the node's own RPC, not relayed in a bounded reply.
   */
  async registryChanges (_since?: number, _cursor?: string): Promise<RegistryPage> {
    const { height } = await this.state.head()
    const [providers, checkers] = await Promise.all([this.state.providers(), this.state.checkers()])
    return { height, full: true, providers, checkers }
  }
  async leasesOf (provider: Address): Promise<LeaseEscrow[]> { return await this.state.leasesOf(decodeAddress(provider)) }
  async settlement (epoch: number): Promise<EpochSettlement | undefined> { return await this.state.settlement(epoch) }
  async seedAt (timestamp: number): Promise<{ seed: Hex, height: number }> { return await this.state.seedAt(timestamp) }

  subscribe (listener: (event: LedgerEvent) => void): () => void {
    this.listeners.add(listener)
    if (this.headsUnsub == null) this.headsUnsub = this.followHeads()
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0 && this.headsUnsub != null) {
        const unsub = this.headsUnsub
        this.headsUnsub = undefined
        void unsub.then(u => { u?.() })
      }
    }
  }

  private async followHeads (): Promise<(() => void) | undefined> {
    try {
      // WsProvider resubscribes this after a reconnection by itself.
      return await this.rt.rpc('chain_subscribeNewHeads', async () => await this.rt.api.rpc.chain.subscribeNewHeads(header => {
        const hash = header.hash.toHex()
        void this.rt.block(hash).then(block => {
          const event: LedgerEvent = { kind: 'block', head: { height: header.number.toNumber(), hash, timestamp: block.timestamp }, txCount: block.extrinsics.filter(x => x.signer != null).length }
          for (const l of this.listeners) l(event)
        }, err => { this.log.debug({ err: errorMessage(err) }, 'peaq: could not read a new block') })
      }))
    } catch (err) {
      if (!isConnectivityError(err)) throw err
      // Not connected yet: subscribe once the connection is back.
      this.log.debug({ err: errorMessage(err) }, 'peaq: block subscription waits for the connection')
      return await new Promise(resolve => {
        const off = this.rt.onConnect(() => { off(); resolve(this.listeners.size > 0 ? this.followHeads() : undefined) })
      })
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const off of this.offs) off()
    for (const reject of [...this.inFlight]) reject(new LedgerUnavailableError('the peaq ledger was closed while a transaction was in flight; it may still be included'))
    const unsub = this.headsUnsub
    this.headsUnsub = undefined
    this.listeners.clear()
    await unsub?.then(u => { u?.() }).catch(() => {})
    await this.rt.disconnect()
  }
}

interface Sent {
  txHash: Hex
  nonce: number
  result: Promise<ISubmittableResult>
  unsub: () => void
  plan: Plan
}
