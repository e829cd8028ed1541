// Turns a LedgerCall into the peaq extrinsic that carries it, after checking it against chain
// state the way the local ledger checks it against its own (same rules, same rejection codes
// where peaq allows). A call whose idempotency key is already used on chain is refused here with
// DUPLICATE, before anything is sent: that is what makes the outbox's retries safe.
//
// Who signs what (custody, ./README.md): users, providers and checkers sign what they pay
// (deposits, stakes, transfers) and their own records; the escrow account signs every payout
// (lease close, epoch settlement), because only its key can move custody funds.
import { peerIdFromString } from '@libp2p/peer-id'
import { LedgerTxError, type Hex, type LedgerCall, type LedgerCallKind, type LedgerRejection } from '../ledger.js'
import { accountId, sameAccount, type Custody } from './accounts.js'
import {
  MAX_NAME, decodePoints, decodeTransferRef, encodeClose, encodeTransferRef, encodeLists, encodePeer, encodePoints, encodeRole, encodeSettlement, encodeStart, encodeTerms,
  listsHash, type AccountId, type Names, type Role
} from './codec.js'
import type { Extrinsic, PeaqRuntime } from './runtime.js'
import type { PeaqState } from './state.js'

/** What the signing block gives a call: its height (the era's start) and time. */
export interface SigningContext { refHeight: number, eraPeriod: number }

export interface Plan {
  /** A fresh extrinsic for each signing attempt (a signed extrinsic cannot be signed again). */
  build: (ctx: SigningContext) => Extrinsic
  /** What leaves the signer's free balance besides the fee: transfers, storage deposits. */
  spend: bigint
  /** Dispatch errors meaning "this key was used meanwhile"; confirmed with `applied` before reporting DUPLICATE. */
  duplicateErrors: readonly string[]
  /** Whether the call's idempotency key is now used on chain. */
  applied?: () => Promise<boolean>
}

const ITEM_EXISTS = ['peaqStorage.ItemTypeAlreadyExists'] as const
const ATTRIBUTE_EXISTS = ['peaqDid.AttributeAlreadyExist'] as const
const LEASE_ID = /^[A-Za-z0-9_-]{1,64}$/
const HEX32 = /^0x[0-9a-f]{64}$/
/** A role record is 1 + compact(len) + len + 4 bytes, within peaqStorage's 128-byte items. */
const MAX_PEER_ID = 100

export interface PlannerParams {
  minProviderStake: bigint
  minCheckerStake: bigint
}

export class Planner {
  constructor (
    private readonly rt: PeaqRuntime,
    private readonly state: PeaqState,
    private readonly custody: Custody,
    private readonly names: Names,
    private readonly params: PlannerParams
  ) {}

  async plan (signer: AccountId, call: LedgerCall): Promise<Plan> {
    const fail = (code: LedgerRejection, detail: string): never => { throw new LedgerTxError(code, call.kind, detail) }
    switch (call.kind) {
      case 'transfer': return await this.transfer(signer, call, fail)
      case 'registerProvider': return await this.register(signer, 'provider', call.peerId, call.stake, fail)
      case 'licenseChecker': return await this.register(signer, 'checker', call.peerId, call.stake, fail)
      case 'deposit': return await this.deposit(signer, call, fail)
      case 'startLease': return await this.start(signer, call, fail)
      case 'closeLease': return await this.close(signer, call, fail)
      case 'settleEpoch': return await this.settle(signer, call, fail)
      case 'faucet': return fail('NOT_ALLOWED', 'peaq has no faucet: fund the account with a transfer')
    }
  }

  private account (address: string, what: string, fail: Fail): AccountId {
    try { return accountId(address) } catch { return fail('BAD_CALL', `${what} is not an SS58 address: ${address}`) }
  }

  private requireEscrow (signer: AccountId, kind: LedgerCallKind, fail: Fail): void {
    if (!sameAccount(signer, this.custody.escrow)) {
      fail('NOT_ALLOWED', `on peaq, ${kind} moves custody funds and must be signed by the escrow account ${this.state.address(this.custody.escrow)}`)
    }
  }

  private itemApplied (owner: AccountId, name: string): () => Promise<boolean> {
    return async () => (await this.rt.item(owner, name)) != null
  }

  private async transfer (signer: AccountId, call: Extract<LedgerCall, { kind: 'transfer' }>, fail: Fail): Promise<Plan> {
    const to = this.account(call.to, 'to', fail)
    if (call.amount <= 0n) fail('BAD_CALL', 'amount must be greater than zero')
    if (sameAccount(to, signer)) fail('BAD_CALL', 'transfer to self')
    if (call.ref == null) return { build: () => this.rt.transferKeepAlive(to, call.amount), spend: call.amount, duplicateErrors: [] }
    const name = this.names.transferRef(call.ref)
    const used = await this.rt.item(signer, name)
    if (used != null) {
      const rec = decodeTransferRef(used)
      fail('DUPLICATE', `transfer ref ${call.ref} already used (${rec.amount} to ${this.state.address(rec.to)})`)
    }
    const record = encodeTransferRef({ to, amount: call.amount })
    return {
      build: () => this.rt.batchAll([this.rt.transferKeepAlive(to, call.amount), this.rt.addItem(name, record)]),
      spend: call.amount + this.rt.itemDeposit,
      duplicateErrors: ITEM_EXISTS,
      applied: this.itemApplied(signer, name)
    }
  }

  private async register (signer: AccountId, role: Role, peerId: string, stake: bigint, fail: Fail): Promise<Plan> {
    if (peerId.length > MAX_PEER_ID) fail('BAD_CALL', `peer id longer than ${MAX_PEER_ID} characters`)
    try { peerIdFromString(peerId) } catch { fail('BAD_CALL', `not a peer id: ${peerId}`) }
    const min = [role === 'provider' ? this.params.minProviderStake : this.params.minCheckerStake, this.rt.existentialDeposit, 1n].reduce((a, b) => a > b ? a : b)
    if (stake < min) fail('BAD_CALL', `stake ${stake} below the minimum ${min}`)
    const other: Role = role === 'provider' ? 'checker' : 'provider'
    const [mine, theirs, index] = await Promise.all([this.state.role(role, signer), this.state.role(other, signer), this.state.peerIndex(peerId)])
    if (theirs != null) fail('WRONG_ROLE', `${this.state.address(signer)} is already registered as a ${other}`)
    if (index != null && !sameAccount(index.account, signer)) fail('WRONG_ROLE', `peer ${peerId} belongs to another account (${this.state.address(index.account)})`)
    if (index != null && index.role !== role) fail('WRONG_ROLE', `peer ${peerId} is registered as a ${index.role}`)
    if (mine != null && mine.record.peerId !== peerId) fail('BAD_CALL', `already registered with peer ${mine.record.peerId}`)
    const held = mine?.stake ?? await this.state.free(this.custody.stake(role, signer))
    if (mine != null && held >= stake) fail('DUPLICATE', `already registered with stake ${held}`)
    const more = stake > held ? stake - held : 0n
    const stakeAccount = this.custody.stake(role, signer)
    const roleName = this.names.role(role)
    return {
      build: ({ refHeight }) => {
        const calls: Extrinsic[] = []
        if (more > 0n) calls.push(this.rt.transferKeepAlive(stakeAccount, more))
        if (mine == null) calls.push(this.rt.addItem(roleName, encodeRole({ peerId, registeredAt: refHeight })))
        if (index == null) calls.push(this.rt.addAttribute(this.custody.escrow, this.names.peer(peerId), encodePeer({ role, account: signer })))
        return calls.length === 1 ? calls[0] as Extrinsic : this.rt.batchAll(calls)
      },
      spend: more + (mine == null ? this.rt.itemDeposit : 0n),
      duplicateErrors: [...ITEM_EXISTS, ...ATTRIBUTE_EXISTS],
      applied: async () => {
        const now = await this.state.role(role, signer)
        return now != null && now.stake >= stake
      }
    }
  }

  private async deposit (signer: AccountId, call: Extract<LedgerCall, { kind: 'deposit' }>, fail: Fail): Promise<Plan> {
    if (!LEASE_ID.test(call.leaseId)) fail('BAD_CALL', 'lease ids are 1-64 of A-Z a-z 0-9 _ -')
    const provider = this.account(call.provider, 'provider', fail)
    if (sameAccount(provider, signer)) fail('BAD_CALL', 'a provider cannot lease from itself')
    if (!Number.isInteger(call.maxSeconds) || call.maxSeconds < 1 || call.maxSeconds > 366 * 86400) fail('BAD_CALL', 'maxSeconds must be 1 s … 366 days')
    const cost = call.pricePerHour * BigInt(call.maxSeconds) / 3600n
    if (call.amount < cost) fail('BAD_CALL', `escrow ${call.amount} does not cover ${call.maxSeconds} s at ${call.pricePerHour}/h (${cost})`)
    if (call.amount < this.rt.existentialDeposit) fail('BAD_CALL', `escrow ${call.amount} is below the existential deposit ${this.rt.existentialDeposit}`)
    const account = this.custody.lease(call.leaseId)
    const [registered, existing] = await Promise.all([this.state.role('provider', provider), this.rt.attribute(account, this.names.lease())])
    if (existing != null) {
      const lease = await this.state.lease(call.leaseId)
      if (lease != null && sameAccount(lease.terms.user, signer)) fail('DUPLICATE', `lease ${call.leaseId} already has an escrow`)
      fail('NOT_ALLOWED', `lease id ${call.leaseId} is already used by another deposit`)
    }
    if (registered == null) fail('WRONG_ROLE', `${call.provider} is not a registered provider`)
    const terms = encodeTerms({ leaseId: call.leaseId, user: signer, provider, amount: call.amount, pricePerHour: call.pricePerHour, maxSeconds: call.maxSeconds })
    return {
      // Pay and record in one batch: the terms exist only if the escrow account was paid.
      build: () => this.rt.batchAll([this.rt.transferKeepAlive(account, call.amount), this.rt.addAttribute(account, this.names.lease(), terms)]),
      spend: call.amount,
      duplicateErrors: ATTRIBUTE_EXISTS,
      applied: async () => (await this.state.lease(call.leaseId)) != null
    }
  }

  private async start (signer: AccountId, call: Extract<LedgerCall, { kind: 'startLease' }>, fail: Fail): Promise<Plan> {
    if (!LEASE_ID.test(call.leaseId)) fail('BAD_CALL', 'lease ids are 1-64 of A-Z a-z 0-9 _ -')
    const lease = await this.state.lease(call.leaseId) ?? fail('UNKNOWN_LEASE', `no escrow for lease ${call.leaseId}`)
    if (!sameAccount(lease.terms.provider, signer)) fail('NOT_ALLOWED', 'only the lease\'s provider starts it')
    if (lease.startedAt != null) fail('DUPLICATE', `lease ${call.leaseId} already started`)
    if (lease.close != null) fail('BAD_CALL', 'lease is closed')
    // The chain does not stamp peaqStorage items, so the start carries the head's time; the
    // escrow reads it as no earlier than the deposit.
    const now = (await this.state.head()).timestamp
    const name = this.names.start(call.leaseId)
    return {
      build: () => this.rt.addItem(name, encodeStart({ startedAt: now })),
      spend: this.rt.itemDeposit,
      duplicateErrors: ITEM_EXISTS,
      applied: this.itemApplied(signer, name)
    }
  }

  private async close (signer: AccountId, call: Extract<LedgerCall, { kind: 'closeLease' }>, fail: Fail): Promise<Plan> {
    if (!LEASE_ID.test(call.leaseId)) fail('BAD_CALL', 'lease ids are 1-64 of A-Z a-z 0-9 _ -')
    this.requireEscrow(signer, call.kind, fail)
    const lease = await this.state.lease(call.leaseId) ?? fail('UNKNOWN_LEASE', `no escrow for lease ${call.leaseId}`)
    if (lease.close != null) fail('DUPLICATE', `lease ${call.leaseId} already closed`)
    // Paid time by the chain's clock (the head's timestamp), capped at maxSeconds.
    const now = (await this.state.head()).timestamp
    const served = lease.startedAt == null ? 0 : Math.max(0, Math.min(lease.terms.maxSeconds, Math.floor((now - lease.startedAt) / 1000)))
    let paid = lease.terms.pricePerHour * BigInt(served) / 3600n
    if (paid > lease.terms.amount) paid = lease.terms.amount
    if (paid > lease.balance) paid = lease.balance
    // Everything else in the lease account goes back to the user (the account is emptied).
    const refunded = lease.balance - paid
    const { user, provider } = lease.terms
    const name = this.names.close(call.leaseId)
    const record = encodeClose({ reason: call.reason, paid, refunded, closedAt: now })
    const path = this.custody.leasePath(call.leaseId)
    return {
      build: () => {
        const payouts: Extrinsic[] = []
        if (paid > 0n && refunded > 0n) payouts.push(this.rt.transferAllowDeath(provider, paid), this.rt.transferAll(user, false))
        else if (paid > 0n) payouts.push(this.rt.transferAll(provider, false))
        else if (refunded > 0n) payouts.push(this.rt.transferAll(user, false))
        // One as_derivative per payout: peaq's call filter refuses a batch nested in a batch.
        return this.rt.batchAll([this.rt.addItem(name, record), ...payouts.map(p => this.rt.asCustody(path, p))])
      },
      spend: this.rt.itemDeposit,
      duplicateErrors: ITEM_EXISTS,
      applied: this.itemApplied(signer, name)
    }
  }

  private async settle (signer: AccountId, call: Extract<LedgerCall, { kind: 'settleEpoch' }>, fail: Fail): Promise<Plan> {
    this.requireEscrow(signer, call.kind, fail)
    if (!Number.isInteger(call.epoch) || call.epoch < 0) fail('BAD_CALL', 'epoch must be a non-negative integer')
    if (!HEX32.test(call.outcomeRoot)) fail('BAD_CALL', 'outcomeRoot must be 0x + 64 lowercase hex digits')
    if (!Number.isInteger(call.outcomeCount) || call.outcomeCount < 0 || call.outcomeCount > 0xffffffff) fail('BAD_CALL', 'outcomeCount must be a u32')
    const name = this.names.epoch(call.epoch)
    if (name.length > MAX_NAME) fail('BAD_CALL', 'epoch number too large')
    const rewards = call.rewards.map(r => ({ to: this.account(r.to, 'reward recipient', fail), amount: positive(r.amount, 'reward', fail) }))
    const penalties = call.penalties.map(p => ({ provider: this.account(p.provider, 'penalised provider', fail), amount: positive(p.amount, 'penalty', fail) }))
    const points = call.points.map(p => ({ to: this.account(p.to, 'points recipient', fail), amount: positive(p.amount, 'points', fail) }))
    if (await this.state.settlementItem(call.epoch) != null) fail('DUPLICATE', `epoch ${call.epoch} is already settled`)

    // Penalties come out of the provider's stake account, never more than it holds.
    const slashes = await Promise.all(penalties.map(async p => {
      const stake = await this.state.role('provider', p.provider) ?? fail('WRONG_ROLE', `penalty for ${this.state.address(p.provider)}, not a provider`)
      const slash = p.amount < stake.stake ? p.amount : stake.stake
      return { path: this.custody.stakePath('provider', p.provider), slash, all: stake.stake - slash < this.rt.existentialDeposit }
    }))
    // Points are running totals in the escrow account's namespace, one item per account.
    const grants = new Map<string, { to: AccountId, amount: bigint }>()
    for (const g of points) {
      const key = this.rt.bytesToHex(g.to)
      grants.set(key, { to: g.to, amount: (grants.get(key)?.amount ?? 0n) + g.amount })
    }
    const totals = await Promise.all([...grants.values()].map(async g => {
      const item = await this.rt.item(this.custody.escrow, this.names.points(g.to))
      const before = item == null ? 0n : decodePoints(item).total
      return { name: this.names.points(g.to), total: before + g.amount, isNew: item == null }
    }))
    const lists = encodeLists({ epoch: call.epoch, rewards, penalties, points })
    const hash = listsHash(lists)
    const rewardSum = rewards.reduce((s, r) => s + r.amount, 0n)
    const newItems = 1n + BigInt(totals.filter(t => t.isNew).length)
    return {
      build: ({ refHeight, eraPeriod }) => this.rt.batchAll([
        this.rt.addItem(name, encodeSettlement({ outcomeRoot: call.outcomeRoot as Hex, outcomeCount: call.outcomeCount, refHeight, eraPeriod, listsHash: hash })),
        // The lists ride in a remark (bytes, not state): `settlement()` reads them back from the block.
        this.rt.remark(lists),
        ...rewards.map(r => this.rt.transferKeepAlive(r.to, r.amount)),
        ...slashes.filter(s => s.slash > 0n).map(s => this.rt.asCustody(s.path, s.all ? this.rt.transferAll(this.custody.escrow, false) : this.rt.transferAllowDeath(this.custody.escrow, s.slash))),
        ...totals.map(t => t.isNew ? this.rt.addItem(t.name, encodePoints({ total: t.total })) : this.rt.updateItem(t.name, encodePoints({ total: t.total })))
      ]),
      spend: rewardSum + newItems * this.rt.itemDeposit,
      duplicateErrors: ITEM_EXISTS,
      applied: this.itemApplied(signer, name)
    }
  }
}

type Fail = (code: LedgerRejection, detail: string) => never

function positive (v: bigint, what: string, fail: Fail): bigint {
  if (v <= 0n) fail('BAD_CALL', `${what} amount must be greater than zero`)
  return v
}
