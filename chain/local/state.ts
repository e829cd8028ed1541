// The local ledger's state and its rules: accounts, provider registrations, checker
// licences, lease escrows, epoch settlements, idempotency keys. Each call is checked in full
// before anything changes, so a refused call leaves no trace but its consumed nonce.
// Changes are collected per block and written in one LevelDB batch with the block itself.
import { LedgerTxError, type AccountInfo, type Address, type Amount, type CheckerLicence, type EpochSettlement, type LeaseEscrow, type LedgerCall, type PeerRegistration, type ProviderRegistration } from '../ledger.js'
import { canonicalJson, idempotencyKey } from './codec.js'
import type { StateDb } from '../../node/store/state-db.js'

export interface LedgerParams {
  /** Account that pays rewards and receives penalties (a module account: no key). */
  treasury: Address
  minProviderStake: Amount
  minCheckerStake: Amount
  /** Devnet faucet: the most one faucet call may mint; 0 disables the faucet. */
  faucetMax: Amount
  /** A checker that dissents from outcomes this many times within `dissentWindowEpochs` epochs loses its eligibility. */
  maxDissentStrikes: number
  dissentWindowEpochs: number
}

export const DEFAULT_DISSENT = { maxDissentStrikes: 3, dissentWindowEpochs: 100 } as const

type Entity = 'account' | 'provider' | 'checker' | 'peer' | 'escrow' | 'settlement' | 'key' | 'change' | 'lease-of'

/**
 * The registry's change index: one key per registration or licence written in a block,
 * `ledger/change/<height>/<provider|checker>/<address>`, so a node that has the registry as of a
 * block reads only what changed after it (RegistryPage). Written, never read back by key, so
 * it is not kept in the cache once flushed.
 */
const CHANGE_PREFIX = 'ledger/change/'
const changeKey = (height: number, entity: 'provider' | 'checker', address: Address): string => `${String(height).padStart(12, '0')}/${entity}/${address}`

/**
 * The leases of each provider, `ledger/lease-of/<provider>/<leaseId>`, written with the escrow:
 * every checker asks for a provider's leases at each probe, and the settlement for each failed
 * provider, so the answer must not cost a scan of every escrow the chain ever held.
 */
const LEASE_OF_PREFIX = 'ledger/lease-of/'
const leaseOfKey = (provider: Address, leaseId: string): string => `${provider}/${leaseId}`

/** Indexes are written, then read by key range only: not kept in the cache once flushed. */
const INDEX_PREFIXES = [CHANGE_PREFIX, LEASE_OF_PREFIX]

/** Serialised with bigints as strings; parsed back by the reviver below. */
const BIG_FIELDS = new Set(['free', 'locked', 'points', 'stake', 'amount', 'pricePerHour', 'paidToProvider', 'refunded'])
function revive (_k: string, v: unknown): unknown {
  return typeof v === 'string' && BIG_FIELDS.has(_k) && /^\d+$/.test(v) ? BigInt(v) : v
}

interface KeyRecord { txHash: string }

/** Read-through, write-back cache of the ledger's entities over the state DB. */
export class LedgerState {
  private readonly db: StateDb
  private readonly cache = new Map<string, unknown>()
  private readonly dirty = new Set<string>()
  readonly params: LedgerParams

  constructor (db: StateDb, params: LedgerParams) {
    this.db = db
    this.params = params
  }

  static key (entity: Entity, id: string): string {
    return `ledger/${entity}/${id}`
  }

  private async get<T>(entity: Entity, id: string): Promise<T | undefined> {
    const key = LedgerState.key(entity, id)
    if (this.cache.has(key)) return this.cache.get(key) as T | undefined
    const bytes = await this.db.get(key)
    const value = bytes === undefined ? undefined : JSON.parse(Buffer.from(bytes).toString('utf8'), revive) as T
    this.cache.set(key, value)
    return value
  }

  private set (entity: Entity, id: string, value: unknown): void {
    const key = LedgerState.key(entity, id)
    this.cache.set(key, value)
    this.dirty.add(key)
  }

  /** Writes (and clears) the changes since the last flush as batch operations. */
  flush (): Array<{ type: 'put', key: string, value: Uint8Array }> {
    const ops = [...this.dirty].map(key => ({ type: 'put' as const, key, value: Buffer.from(canonicalJson(this.cache.get(key))) }))
    for (const key of this.dirty) if (INDEX_PREFIXES.some(prefix => key.startsWith(prefix))) this.cache.delete(key)
    this.dirty.clear()
    return ops
  }

  /** Drops unflushed changes (a block that failed to persist). */
  discard (): void {
    for (const key of this.dirty) this.cache.delete(key)
    this.dirty.clear()
  }

  async account (address: Address): Promise<AccountInfo> {
    return await this.get<AccountInfo>('account', address) ?? { address, free: 0n, locked: 0n, nonce: 0, points: 0n }
  }

  async provider (address: Address): Promise<ProviderRegistration | undefined> { return await this.get('provider', address) }
  async checker (address: Address): Promise<CheckerLicence | undefined> { return await this.get('checker', address) }
  async registration (peerId: string): Promise<PeerRegistration | undefined> {
    const peer = await this.get<{ role: 'provider' | 'checker', address: Address }>('peer', peerId)
    if (peer == null) return undefined
    const reg = peer.role === 'provider' ? await this.provider(peer.address) : await this.checker(peer.address)
    if (reg == null) return undefined
    return { role: peer.role, address: peer.address, stake: reg.stake, eligible: 'eligible' in reg ? reg.eligible : true }
  }

  async escrow (leaseId: string): Promise<LeaseEscrow | undefined> { return await this.get('escrow', leaseId) }

  /** Every entity of a kind (a scan of the store: a dev chain's sizes, not a production index). */
  private async all<T>(entity: Entity): Promise<T[]> {
    const prefix = `ledger/${entity}/`
    const out: T[] = []
    for await (const key of this.db.keys({ gte: prefix, lt: prefix + '\xff' })) {
      const value = await this.get<T>(entity, key.slice(prefix.length))
      if (value != null) out.push(value)
    }
    return out
  }

  async providers (): Promise<ProviderRegistration[]> { return await this.all('provider') }
  async checkers (): Promise<CheckerLicence[]> { return await this.all('checker') }

  /**
   * One page of the registry, at most `limit` records: with `since`, the records changed in
   * blocks since+1 … upTo (from the change index, each record as it is now); without, every record.
   * `cursor` is the last key of the previous page; a cursor outside the range scanned only moves
   * where the scan starts, so a forged one reads nothing it should not.
   */
  async registryPage (since: number | undefined, upTo: number, cursor: string | undefined, limit: number): Promise<{ providers: ProviderRegistration[], checkers: CheckerLicence[], cursor?: string }> {
    const ranges: Array<[string, string]> = since === undefined
      ? [[LedgerState.key('checker', ''), LedgerState.key('checker', '\xff')], [LedgerState.key('provider', ''), LedgerState.key('provider', '\xff')]]
      : [[CHANGE_PREFIX + String(since + 1).padStart(12, '0'), CHANGE_PREFIX + String(upTo + 1).padStart(12, '0')]]
    const providers: ProviderRegistration[] = []
    const checkers: CheckerLicence[] = []
    const seen = new Set<string>()
    let count = 0
    let last: string | undefined
    for (const [start, end] of ranges) {
      const from = cursor !== undefined && cursor >= start ? { gt: cursor } : { gte: start }
      for await (const key of this.db.keys({ ...from, lt: end })) {
        if (count === limit) return { providers, checkers, cursor: last }
        count++
        last = key
        // ledger/<entity>/<address>, or ledger/change/<height>/<entity>/<address>
        const parts = key.split('/')
        const entity = parts.at(-2)
        const address = parts.at(-1) as string
        if ((entity !== 'provider' && entity !== 'checker') || seen.has(`${entity}/${address}`)) continue
        seen.add(`${entity}/${address}`)
        if (entity === 'provider') { const r = await this.provider(address); if (r != null) providers.push(r) } else { const l = await this.checker(address); if (l != null) checkers.push(l) }
      }
    }
    return { providers, checkers }
  }
  async leasesOf (provider: Address): Promise<LeaseEscrow[]> {
    const prefix = LEASE_OF_PREFIX + leaseOfKey(provider, '')
    const out: LeaseEscrow[] = []
    for await (const key of this.db.keys({ gte: prefix, lt: prefix + '\xff' })) {
      const escrow = await this.escrow(key.slice(prefix.length))
      if (escrow != null) out.push(escrow)
    }
    return out
  }

  /** The lease index's entries for the escrows of a chain written before it existed. */
  async leaseIndexBackfill (): Promise<Array<{ type: 'put', key: string, value: Uint8Array }>> {
    return (await this.all<LeaseEscrow>('escrow')).map(e => ({ type: 'put' as const, key: LEASE_OF_PREFIX + leaseOfKey(e.provider, e.leaseId), value: Buffer.from('1') }))
  }
  async settlement (epoch: number): Promise<EpochSettlement | undefined> { return await this.get('settlement', String(epoch).padStart(12, '0')) }
  async keyUsed (key: string): Promise<boolean> { return (await this.get<KeyRecord>('key', key)) != null }

  private putAccount (a: AccountInfo): void { this.set('account', a.address, a) }

  /** A registration or licence, and its entry in the change index at `height`. */
  private putRegistered (entity: 'provider', value: ProviderRegistration, height: number): void
  private putRegistered (entity: 'checker', value: CheckerLicence, height: number): void
  private putRegistered (entity: 'provider' | 'checker', value: ProviderRegistration | CheckerLicence, height: number): void {
    this.set(entity, value.address, value)
    this.set('change', changeKey(height, entity, value.address), 1)
  }

  /** Consumes the signer's nonce (also for refused calls, as a chain does). */
  async bumpNonce (address: Address): Promise<void> {
    const a = await this.account(address)
    this.putAccount({ ...a, nonce: a.nonce + 1 })
  }

  /** Mints into an account (genesis endowments, the devnet faucet). */
  async mint (address: Address, amount: Amount): Promise<void> {
    const a = await this.account(address)
    this.putAccount({ ...a, free: a.free + amount })
  }

  /**
   * Checks and applies one call by `signer` at block `height` and time `now`.
   * Throws LedgerTxError (and changes nothing) when the rules refuse it.
   */
  async apply (signer: Address, call: LedgerCall, ctx: { height: number, now: number, txHash: string }): Promise<void> {
    const fail = (code: ConstructorParameters<typeof LedgerTxError>[0], message: string): never => { throw new LedgerTxError(code, call.kind, message) }
    const key = idempotencyKey(signer, call)
    if (key != null && await this.keyUsed(key)) fail('DUPLICATE', `already applied (${key})`)
    const from = await this.account(signer)

    switch (call.kind) {
      case 'transfer': {
        if (call.to === signer) fail('BAD_CALL', 'transfer to self')
        if (from.free < call.amount) fail('INSUFFICIENT_BALANCE', `free balance ${from.free} < ${call.amount}`)
        const to = await this.account(call.to)
        this.putAccount({ ...from, free: from.free - call.amount })
        this.putAccount({ ...to, free: to.free + call.amount })
        break
      }
      case 'registerProvider':
      case 'licenseChecker': {
        const isProvider = call.kind === 'registerProvider'
        const min = isProvider ? this.params.minProviderStake : this.params.minCheckerStake
        if (call.stake < min) fail('BAD_CALL', `stake ${call.stake} below the minimum ${min}`)
        if ((isProvider ? await this.checker(signer) : await this.provider(signer)) != null) {
          fail('WRONG_ROLE', `${signer} is already registered as a ${isProvider ? 'checker' : 'provider'}`)
        }
        const peer = await this.get<{ role: string, address: Address }>('peer', call.peerId)
        if (peer != null && peer.address !== signer) fail('WRONG_ROLE', `peer ${call.peerId} belongs to another account`)
        const existing = isProvider ? await this.provider(signer) : await this.checker(signer)
        if (existing != null && existing.peerId !== call.peerId) fail('BAD_CALL', `already registered with peer ${existing.peerId}`)
        const held = existing?.stake ?? 0n
        if (held >= call.stake) fail('DUPLICATE', `already registered with stake ${held}`)
        const more = call.stake - held
        if (from.free < more) fail('INSUFFICIENT_BALANCE', `free balance ${from.free} < stake ${more}`)
        this.putAccount({ ...from, free: from.free - more, locked: from.locked + more })
        if (isProvider) {
          this.putRegistered('provider', { address: signer, peerId: call.peerId, stake: call.stake, registeredAt: (existing as ProviderRegistration | undefined)?.registeredAt ?? ctx.height }, ctx.height)
        } else {
          const licence = existing as CheckerLicence | undefined
          this.putRegistered('checker', { address: signer, peerId: call.peerId, stake: call.stake, licensedAt: licence?.licensedAt ?? ctx.height, eligible: licence?.eligible ?? true }, ctx.height)
        }
        this.set('peer', call.peerId, { role: isProvider ? 'provider' : 'checker', address: signer })
        break
      }
      case 'deposit': {
        if (await this.escrow(call.leaseId) != null) fail('DUPLICATE', `lease ${call.leaseId} already has an escrow`)
        if (await this.provider(call.provider) == null) fail('WRONG_ROLE', `${call.provider} is not a registered provider`)
        if (call.provider === signer) fail('BAD_CALL', 'a provider cannot lease from itself')
        const cost = call.pricePerHour * BigInt(call.maxSeconds) / 3600n
        if (call.amount < cost) fail('BAD_CALL', `escrow ${call.amount} does not cover ${call.maxSeconds} s at ${call.pricePerHour}/h (${cost})`)
        if (from.free < call.amount) fail('INSUFFICIENT_BALANCE', `free balance ${from.free} < escrow ${call.amount}`)
        this.putAccount({ ...from, free: from.free - call.amount, locked: from.locked + call.amount })
        this.set('escrow', call.leaseId, {
          leaseId: call.leaseId, user: signer, provider: call.provider, amount: call.amount, pricePerHour: call.pricePerHour,
          maxSeconds: call.maxSeconds, status: 'funded', paidToProvider: 0n, refunded: 0n
        } satisfies LeaseEscrow)
        this.set('lease-of', leaseOfKey(call.provider, call.leaseId), 1)
        break
      }
      case 'startLease': {
        const escrow = await this.escrow(call.leaseId) ?? fail('UNKNOWN_LEASE', `no escrow for lease ${call.leaseId}`)
        if (escrow.provider !== signer) fail('NOT_ALLOWED', 'only the lease\'s provider starts it')
        if (escrow.status !== 'funded') fail('BAD_CALL', `lease is ${escrow.status}`)
        this.set('escrow', call.leaseId, { ...escrow, status: 'running', startedAt: ctx.now })
        break
      }
      case 'closeLease': {
        const escrow = await this.escrow(call.leaseId) ?? fail('UNKNOWN_LEASE', `no escrow for lease ${call.leaseId}`)
        if (escrow.provider !== signer && escrow.user !== signer) fail('NOT_ALLOWED', 'only the lease\'s user or provider closes it')
        if (escrow.status === 'closed') fail('DUPLICATE', 'lease already closed')
        // Paid time is measured by the ledger's clock, not claimed by either side.
        const served = escrow.startedAt == null ? 0 : Math.min(escrow.maxSeconds, Math.floor((ctx.now - escrow.startedAt) / 1000))
        const pay = min(escrow.amount, escrow.pricePerHour * BigInt(served) / 3600n)
        const refund = escrow.amount - pay
        const user = await this.account(escrow.user)
        this.putAccount({ ...user, locked: user.locked - escrow.amount, free: user.free + refund })
        const provider = await this.account(escrow.provider)
        this.putAccount({ ...provider, free: provider.free + pay })
        this.set('escrow', call.leaseId, { ...escrow, status: 'closed', closedAt: ctx.now, paidToProvider: pay, refunded: refund, closeReason: call.reason })
        break
      }
      case 'settleEpoch': {
        const licence = await this.checker(signer)
        if (licence == null || !licence.eligible) fail('WRONG_ROLE', `${signer} is not an eligible licensed checker`)
        if (await this.settlement(call.epoch) != null) fail('DUPLICATE', `epoch ${call.epoch} is already settled`)
        const treasury = await this.account(this.params.treasury)
        const rewards = call.rewards.reduce((s, r) => s + r.amount, 0n)
        if (treasury.free < rewards) fail('INSUFFICIENT_BALANCE', `treasury ${treasury.free} cannot pay rewards ${rewards}`)
        for (const p of call.penalties) if (await this.provider(p.provider) == null) fail('WRONG_ROLE', `penalty for ${p.provider}, not a provider`)
        const dissenters = [...new Set(call.dissenters ?? [])]
        for (const d of dissenters) if (await this.checker(d) == null) fail('WRONG_ROLE', `dissent by ${d}, not a licensed checker`)
        // Apply: rewards out of the treasury, penalties from provider stake into it, points to users.
        let treasuryFree = treasury.free - rewards
        for (const r of call.rewards) { const a = await this.account(r.to); this.putAccount({ ...a, free: a.free + r.amount }) }
        for (const p of call.penalties) {
          const reg = await this.provider(p.provider) as ProviderRegistration
          const slash = min(reg.stake, p.amount)
          const a = await this.account(p.provider)
          this.putAccount({ ...a, locked: a.locked - slash })
          this.putRegistered('provider', { ...reg, stake: reg.stake - slash }, ctx.height)
          treasuryFree += slash
        }
        for (const g of call.points) { const a = await this.account(g.to); this.putAccount({ ...a, points: a.points + g.amount }) }
        // Repeated dissent (DESIGN §1.3): a strike per epoch with a minority verdict; enough
        // strikes within the window and the licence stops counting (its stake stays locked).
        for (const d of dissenters) {
          const licence = await this.checker(d) as CheckerLicence
          const window = call.epoch - this.params.dissentWindowEpochs
          const strikes = [...(licence.dissentEpochs ?? []).filter(e => e > window && e !== call.epoch), call.epoch].slice(-this.params.maxDissentStrikes)
          const out = licence.eligible && strikes.length >= this.params.maxDissentStrikes
          this.putRegistered('checker', { ...licence, dissentEpochs: strikes, ...(out ? { eligible: false, ineligibleAt: ctx.height } : {}) }, ctx.height)
        }
        const t = await this.account(this.params.treasury)
        this.putAccount({ ...t, free: treasuryFree })
        this.set('settlement', String(call.epoch).padStart(12, '0'), {
          epoch: call.epoch, outcomeRoot: call.outcomeRoot, outcomeCount: call.outcomeCount, submitter: signer,
          height: ctx.height, rewards: call.rewards, penalties: call.penalties, points: call.points, dissenters
        } satisfies EpochSettlement)
        break
      }
      case 'faucet': {
        if (this.params.faucetMax === 0n) fail('NOT_ALLOWED', 'this chain has no faucet')
        if (call.amount > this.params.faucetMax) fail('BAD_CALL', `the faucet gives at most ${this.params.faucetMax} per call`)
        await this.mint(signer, call.amount)
        break
      }
    }
    if (key != null) this.set('key', key, { txHash: ctx.txHash } satisfies KeyRecord)
  }

  /** Sum of free + locked over the given accounts (for conservation checks and tests). */
  async total (addresses: Address[]): Promise<Amount> {
    let sum = 0n
    for (const a of addresses) { const acc = await this.account(a); sum += acc.free + acc.locked }
    return sum
  }
}

function min (a: bigint, b: bigint): bigint { return a < b ? a : b }
