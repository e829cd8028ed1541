// Reads the ledger's facts back from peaq's chain state: registrations, lease escrows,
// settlements, points, balances. Each fact is checked against who could have written it
// (./README.md, "what can be forged"): a record that does not hold up reads as absent.
import { blake2AsU8a } from '@polkadot/util-crypto'
import { u8aToHex } from '@polkadot/util'
import { LedgerUnavailableError, type AccountInfo, type Address, type ChainHead, type CheckerLicence, type EpochSettlement, type Hex, type LeaseEscrow, type PeerRegistration, type ProviderRegistration } from '../ledger.js'
import { sameAccount, toAddress, type Custody } from './accounts.js'
import {
  RecordDecodeError, decodeClose, decodeLists, decodePeer, decodePoints, decodeRole, decodeSettlement, decodeStart, decodeTerms, listsHash,
  type AccountId, type LeaseClose, type LeaseTerms, type Names, type Role, type RoleRecord, type SettlementItem
} from './codec.js'
import { SS58_PREFIX } from '../../node/identity/keystore.js'
import type { PeaqRuntime } from './runtime.js'

/** Everything the chain holds about one lease. */
export interface LeaseView {
  terms: LeaseTerms
  /** Chain time (ms) the deposit was made: the terms attribute's `created`. */
  depositedAt: number
  /** The lease's custody account and what it holds now. */
  account: AccountId
  balance: bigint
  /** The provider's claimed start, never before the deposit. */
  startedAt?: number
  close?: LeaseClose
}

export interface RoleView { record: RoleRecord, stake: bigint, stakeAccount: AccountId }

/** Decodes, or treats a record that does not parse as absent (someone else's bytes). */
function orAbsent<T> (decode: () => T): T | undefined {
  try { return decode() } catch (err) { if (err instanceof RecordDecodeError) return undefined; throw err }
}

export class PeaqState {
  private readonly settlements = new Map<number, EpochSettlement>()
  private readonly blockTimes = new Map<number, number>()

  constructor (private readonly rt: PeaqRuntime, private readonly custody: Custody, private readonly names: Names) {}

  /** Addresses come back in the node's format (SS58 prefix 42, as wallets print them), whatever the chain's prefix. */
  address (id: AccountId): Address { return toAddress(id, SS58_PREFIX) }

  async free (id: AccountId): Promise<bigint> { return (await this.rt.account(id)).free }

  async head (): Promise<ChainHead> {
    const h = await this.rt.bestHeader()
    const block = await this.rt.block(h.hash)
    return { height: h.height, hash: h.hash, timestamp: block.timestamp }
  }

  async role (role: Role, id: AccountId): Promise<RoleView | undefined> {
    const stakeAccount = this.custody.stake(role, id)
    const [item, stake] = await Promise.all([this.rt.item(id, this.names.role(role)), this.free(stakeAccount)])
    const record = item == null ? undefined : orAbsent(() => decodeRole(item))
    return record == null ? undefined : { record, stake, stakeAccount }
  }

  async provider (id: AccountId): Promise<ProviderRegistration | undefined> {
    const v = await this.role('provider', id)
    return v == null ? undefined : this.providerOf(id, v)
  }

  async checker (id: AccountId): Promise<CheckerLicence | undefined> {
    const v = await this.role('checker', id)
    return v == null ? undefined : this.checkerOf(id, v)
  }

  private providerOf (id: AccountId, v: RoleView): ProviderRegistration {
    return { address: this.address(id), peerId: v.record.peerId, stake: v.stake, registeredAt: v.record.registeredAt }
  }

  private checkerOf (id: AccountId, v: RoleView): CheckerLicence {
    // Eligibility has no on-chain switch on peaq yet: a licensed checker with stake is eligible.
    return { address: this.address(id), peerId: v.record.peerId, stake: v.stake, licensedAt: v.record.registeredAt, eligible: v.stake > 0n }
  }

  /** The peer index entry (who claimed `peerId`), unverified. */
  async peerIndex (peerId: string): Promise<{ role: Role, account: AccountId } | undefined> {
    const attr = await this.rt.attribute(this.custody.escrow, this.names.peer(peerId))
    return attr == null ? undefined : orAbsent(() => decodePeer(attr.value))
  }

  async registration (peerId: string): Promise<PeerRegistration | undefined> {
    const index = await this.peerIndex(peerId)
    if (index == null) return undefined
    // The index is first-come (a DID attribute): it counts only if the account's own record,
    // which nobody else can write, names the same peer.
    const v = await this.role(index.role, index.account)
    if (v == null || v.record.peerId !== peerId) return undefined
    return { role: index.role, address: this.address(index.account), stake: v.stake, eligible: v.stake > 0n }
  }

  /**
   * Every account registered in `role`, with its record: the peer index's entries, each counted
   * only when the account's own record names the same peer (as registration() checks).
   */
  private async registered (role: Role): Promise<Array<{ id: AccountId, view: RoleView }>> {
    const index = await this.rt.attributesNamed(`${this.names.namespace}/peer/`)
    // account → the index names pointing at it (the index is first-come: a name counts for the
    // account its entry names, and only if that account's record claims the same peer)
    const accounts = new Map<string, { id: AccountId, names: Set<string> }>()
    for (const attr of index) {
      const entry = orAbsent(() => decodePeer(attr.value))
      if (entry == null || entry.role !== role) continue
      const key = this.address(entry.account)
      const a = accounts.get(key) ?? { id: entry.account, names: new Set<string>() }
      a.names.add(new TextDecoder().decode(attr.name))
      accounts.set(key, a)
    }
    const found = await Promise.all([...accounts.values()].map(async a => ({ ...a, view: await this.role(role, a.id) })))
    return found.flatMap(({ id, names, view }) => view != null && names.has(this.names.peer(view.record.peerId)) ? [{ id, view }] : [])
  }

  async providers (): Promise<ProviderRegistration[]> {
    return (await this.registered('provider')).map(({ id, view }) => this.providerOf(id, view))
  }

  async checkers (): Promise<CheckerLicence[]> {
    return (await this.registered('checker')).map(({ id, view }) => this.checkerOf(id, view))
  }

  /** The escrows of `provider`'s leases, from the lease terms attributes (each verified by escrow()). */
  async leasesOf (provider: AccountId): Promise<LeaseEscrow[]> {
    const terms = await this.rt.attributesNamed(this.names.lease())
    const ids = new Set<string>()
    for (const attr of terms) {
      const t = orAbsent(() => decodeTerms(attr.value))
      if (t != null && sameAccount(t.provider, provider)) ids.add(t.leaseId)
    }
    const all = await Promise.all([...ids].map(async id => await this.escrow(id)))
    return all.filter((e): e is LeaseEscrow => e != null)
  }

  async lease (leaseId: string): Promise<LeaseView | undefined> {
    const account = this.custody.lease(leaseId)
    const attr = await this.rt.attribute(account, this.names.lease())
    if (attr == null) return undefined
    const terms = orAbsent(() => decodeTerms(attr.value))
    if (terms == null || terms.leaseId !== leaseId) return undefined
    const [owned, balance, closeItem, startItem] = await Promise.all([
      this.rt.attributeOwnedBy(terms.user, account, this.names.lease()),
      this.free(account),
      this.rt.item(this.custody.escrow, this.names.close(leaseId)),
      this.rt.item(terms.provider, this.names.start(leaseId))
    ])
    // Terms count only if written by the user they name: anyone may create the attribute first.
    if (!owned) return undefined
    const close = closeItem == null ? undefined : orAbsent(() => decodeClose(closeItem))
    // An open lease whose account does not hold the deposit was never paid (terms written alone).
    if (close == null && balance < terms.amount) return undefined
    const start = startItem == null ? undefined : orAbsent(() => decodeStart(startItem))
    return {
      terms,
      depositedAt: attr.created,
      account,
      balance,
      startedAt: start == null ? undefined : Math.max(start.startedAt, attr.created),
      close
    }
  }

  async escrow (leaseId: string): Promise<LeaseEscrow | undefined> {
    const v = await this.lease(leaseId)
    if (v == null) return undefined
    const { terms, close } = v
    return {
      leaseId,
      user: this.address(terms.user),
      provider: this.address(terms.provider),
      amount: terms.amount,
      pricePerHour: terms.pricePerHour,
      maxSeconds: terms.maxSeconds,
      ...(v.startedAt != null ? { startedAt: v.startedAt } : {}),
      ...(close != null ? { closedAt: close.closedAt, closeReason: close.reason } : {}),
      status: close != null ? 'closed' : v.startedAt != null ? 'running' : 'funded',
      paidToProvider: close?.paid ?? 0n,
      refunded: close?.refunded ?? 0n
    }
  }

  async settlementItem (epoch: number): Promise<SettlementItem | undefined> {
    const item = await this.rt.item(this.custody.escrow, this.names.epoch(epoch))
    return item == null ? undefined : orAbsent(() => decodeSettlement(item))
  }

  /**
   * The settlement of `epoch`: root and count from its item, the lists from the remark of the
   * batch that wrote it, found in the era window after `refHeight` (usually the next block).
   */
  async settlement (epoch: number): Promise<EpochSettlement | undefined> {
    const cached = this.settlements.get(epoch)
    if (cached != null) return cached
    const item = await this.settlementItem(epoch)
    if (item == null) return undefined
    const found = await this.findSettlementBatch(item)
    if (found == null) {
      throw new LedgerUnavailableError(`settlement of epoch ${epoch} is on chain, but the block holding its lists (#${item.refHeight + 1}…#${item.refHeight + item.eraPeriod}) is not available from ${this.rt.url}`)
    }
    const lists = decodeLists(found.remark)
    const settlement: EpochSettlement = {
      epoch,
      outcomeRoot: item.outcomeRoot,
      outcomeCount: item.outcomeCount,
      submitter: this.address(this.custody.escrow),
      height: found.height,
      rewards: lists.rewards.map(r => ({ to: this.address(r.to), amount: r.amount })),
      penalties: lists.penalties.map(p => ({ provider: this.address(p.provider), amount: p.amount })),
      points: lists.points.map(p => ({ to: this.address(p.to), amount: p.amount }))
    }
    this.settlements.set(epoch, settlement)
    return settlement
  }

  private async findSettlementBatch (item: SettlementItem): Promise<{ height: number, remark: Uint8Array } | undefined> {
    const wanted = u8aToHex(item.listsHash)
    for (let height = item.refHeight + 1; height <= item.refHeight + item.eraPeriod; height++) {
      const hash = await this.rt.blockHash(height)
      if (hash == null) return undefined
      const block = await this.rt.block(hash)
      const candidates = block.extrinsics.filter(x => x.signer != null && sameAccount(x.signer, this.custody.escrow) && x.calls.length > 0)
      for (const x of candidates) {
        const remark = x.calls.find(c => c.section === 'system' && c.method === 'remark')
        const bytes = remark?.args[0]?.toU8a(true)
        if (bytes == null || u8aToHex(blake2AsU8a(bytes, 256)) !== wanted) continue
        // Same lists in a batch that failed (an earlier attempt) would also match: ask the
        // block's events when the node still has them.
        if (!await this.succeeded(hash, x.index)) continue
        return { height, remark: bytes }
      }
    }
    return undefined
  }

  private async succeeded (blockHash: Hex, index: number): Promise<boolean> {
    const events = await this.rt.events(blockHash)
    if (events == null) return true // pruned: the item exists, and the lists hash matches
    return events.some(e => e.phase.isApplyExtrinsic && e.phase.asApplyExtrinsic.toNumber() === index && e.event.section === 'system' && e.event.method === 'ExtrinsicSuccess')
  }

  async points (id: AccountId): Promise<bigint> {
    const item = await this.rt.item(this.custody.escrow, this.names.points(id))
    return item == null ? 0n : orAbsent(() => decodePoints(item))?.total ?? 0n
  }

  async account (id: AccountId): Promise<AccountInfo> {
    const [info, providerStake, checkerStake, points] = await Promise.all([
      this.rt.account(id),
      this.free(this.custody.stake('provider', id)),
      this.free(this.custody.stake('checker', id)),
      this.points(id)
    ])
    // `locked`: the stakes held in custody for this account. Lease escrows are not indexed by user.
    return { address: this.address(id), free: info.free, locked: providerStake + checkerStake, nonce: info.nonce, points }
  }

  /** The timestamp inherent of block `height` (0 for genesis, which has none). */
  async blockTime (height: number): Promise<{ timestamp: number, hash: Hex }> {
    const hash = await this.rt.blockHash(height)
    if (hash == null) throw new LedgerUnavailableError(`block #${height} is not known to ${this.rt.url}`)
    const known = this.blockTimes.get(height)
    if (known != null) return { timestamp: known, hash }
    const { timestamp } = await this.rt.block(hash)
    this.blockTimes.set(height, timestamp)
    return { timestamp, hash }
  }

  /**
   * The last finalized block at or before `timestamp`. Blocks after a finalized block with a
   * later timestamp cannot change the answer, so it is the same for every node that asks.
   */
  async seedAt (timestamp: number): Promise<{ seed: Hex, height: number }> {
    const fin = await this.rt.finalizedHeader()
    const top = await this.blockTime(fin.height)
    if (top.timestamp <= timestamp) throw new LedgerUnavailableError(`peaq has not finalized a block after ${timestamp} yet (finalized #${fin.height} at ${top.timestamp})`, 'LEDGER_NOT_YET')
    let lo = 0 // invariant: time(lo) <= timestamp (genesis counts as time 0)
    let hi = fin.height // invariant: time(hi) > timestamp
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2)
      if ((await this.blockTime(mid)).timestamp <= timestamp) lo = mid
      else hi = mid
    }
    const { hash } = await this.blockTime(lo)
    return { seed: u8aToHex(blake2AsU8a(`kaisar-seed/${hash}`, 256)) as Hex, height: lo }
  }
}
