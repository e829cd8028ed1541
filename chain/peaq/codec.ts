// What the peaq ledger writes on chain, and under which names. Records are small versioned
// binary layouts (SCALE-style little-endian integers, compact-length strings): peaq's storage
// pallet caps an item at 128 bytes on older runtimes (256 on newer ones), so JSON would not fit.
//
// Where each record lives decides who can forge it (see ./README.md):
//  - peaqStorage items are keyed by blake2(signer ‖ item name): only the signer can write them.
//  - peaqDid attributes are keyed by blake2(did account ‖ name): anyone can create one first.
import { compactFromU8a, compactToU8a, stringToU8a, u8aConcat, u8aToHex, u8aToString } from '@polkadot/util'
import { blake2AsU8a } from '@polkadot/util-crypto'
import type { Amount, Hex } from '../ledger.js'

/** A record that does not parse: written by someone else, or by an incompatible version. */
export class RecordDecodeError extends Error {}

class Writer {
  private readonly parts: Uint8Array[] = []
  u8 (v: number): this { this.parts.push(Uint8Array.of(v)); return this }
  u32 (v: number): this { return this.le(BigInt(v), 4) }
  u64 (v: number | bigint): this { return this.le(BigInt(v), 8) }
  u128 (v: bigint): this { return this.le(v, 16) }
  fixed (bytes: Uint8Array, length: number): this {
    if (bytes.byteLength !== length) throw new RangeError(`expected ${length} bytes, got ${bytes.byteLength}`)
    this.parts.push(bytes)
    return this
  }

  bytes (bytes: Uint8Array): this { this.parts.push(compactToU8a(bytes.byteLength), bytes); return this }
  str (s: string): this { return this.bytes(stringToU8a(s)) }
  done (): Uint8Array { return u8aConcat(...this.parts) }

  private le (v: bigint, size: number): this {
    if (v < 0n || v >= 1n << BigInt(8 * size)) throw new RangeError(`${v} does not fit in ${8 * size} bits`)
    const out = new Uint8Array(size)
    for (let i = 0; i < size; i++) { out[i] = Number((v >> BigInt(8 * i)) & 0xffn) }
    this.parts.push(out)
    return this
  }
}

class Reader {
  private offset = 0
  constructor (private readonly data: Uint8Array) {}
  u8 (): number { return this.take(1)[0] as number }
  u32 (): number { return Number(this.le(4)) }
  u64 (): bigint { return this.le(8) }
  u128 (): bigint { return this.le(16) }
  fixed (length: number): Uint8Array { return this.take(length) }
  bytes (): Uint8Array {
    const [read, length] = compactFromU8a(this.data.subarray(this.offset))
    this.offset += read
    return this.take(length.toNumber())
  }

  str (): string { return u8aToString(this.bytes()) }
  end (): void { if (this.offset !== this.data.byteLength) throw new RecordDecodeError(`${this.data.byteLength - this.offset} trailing bytes`) }

  private le (size: number): bigint {
    const b = this.take(size)
    let v = 0n
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i] as number)
    return v
  }

  private take (n: number): Uint8Array {
    if (this.offset + n > this.data.byteLength) throw new RecordDecodeError('record too short')
    const out = this.data.subarray(this.offset, this.offset + n)
    this.offset += n
    return out
  }
}

function decode<T> (what: string, data: Uint8Array, version: number, read: (r: Reader) => T): T {
  try {
    const r = new Reader(data)
    const v = r.u8()
    if (v !== version) throw new RecordDecodeError(`version ${v}, expected ${version}`)
    const out = read(r)
    r.end()
    return out
  } catch (err) {
    if (err instanceof RecordDecodeError) throw new RecordDecodeError(`${what}: ${err.message}`)
    throw new RecordDecodeError(`${what}: ${(err as Error).message}`)
  }
}

/** 32-byte account id. */
export type AccountId = Uint8Array

// ---- names ------------------------------------------------------------------------------

/** peaqStorage item names and peaqDid attribute names are at most 64 bytes. */
export const MAX_NAME = 64

/** 16 bytes of blake2 as hex: a fixed-length name part for ids of any length. */
export function shortHash (value: string | Uint8Array): string {
  return u8aToHex(blake2AsU8a(value, 128), -1, false)
}

/** The names this deployment uses, under its namespace (default `kaisar`). */
export class Names {
  constructor (readonly namespace: string) {
    if (!/^[a-z0-9-]{1,16}$/.test(namespace)) throw new RangeError('namespace: 1-16 of a-z 0-9 -')
  }

  /** Item in the registrant's namespace: its provider or checker record. */
  role (role: 'provider' | 'checker'): string { return `${this.namespace}/${role}` }
  /** Attribute on the escrow account's DID: peer id → account (the index `registration()` reads). */
  peer (peerId: string): string { return `${this.namespace}/peer/${shortHash(peerId)}` }
  /** Attribute on the lease's escrow account DID: the lease terms, written with the deposit. */
  lease (): string { return `${this.namespace}/lease` }
  /** Item in the provider's namespace: when it started the lease. */
  start (leaseId: string): string { return `${this.namespace}/start/${shortHash(leaseId)}` }
  /** Item in the escrow account's namespace: how the lease was paid out. */
  close (leaseId: string): string { return `${this.namespace}/close/${shortHash(leaseId)}` }
  /** Item in the escrow account's namespace: the epoch's settlement. */
  epoch (epoch: number): string { return `${this.namespace}/epoch/${epoch}` }
  /** Item in the escrow account's namespace: an account's points total. */
  points (account: AccountId): string { return `${this.namespace}/points/${shortHash(account)}` }
  /** Item in the sender's namespace: a transfer `ref` already used. */
  transferRef (ref: string): string { return `${this.namespace}/ref/${shortHash(ref)}` }
}

/** The peaqStorage map key of `name` written by `owner`: blake2_256(owner ‖ name). */
export function itemKey (owner: AccountId, name: string): Uint8Array {
  return blake2AsU8a(u8aConcat(owner, stringToU8a(name)), 256)
}

/** The peaqDid attribute key of `name` on `did`: blake2_256(did ‖ name) (independent of who wrote it). */
export function attributeKey (did: AccountId, name: string): Uint8Array {
  return blake2AsU8a(u8aConcat(did, stringToU8a(name)), 256)
}

/**
 * peaqDid's record of who created an attribute: newer runtimes key it by
 * blake2(owner ‖ did ‖ SCALE(name)), the genesis runtime by blake2(owner ‖ did) (one entry per
 * owner and DID). Both are checked; on a DID only one attribute is ever written by us, so the
 * older form still proves authorship there.
 */
export function attributeOwnerKeys (owner: AccountId, did: AccountId, name: string): [Uint8Array, Uint8Array] {
  const n = stringToU8a(name)
  return [blake2AsU8a(u8aConcat(owner, did, compactToU8a(n.byteLength), n), 256), blake2AsU8a(u8aConcat(owner, did), 256)]
}

// ---- records ----------------------------------------------------------------------------

export interface RoleRecord { peerId: string, registeredAt: number }
export function encodeRole (r: RoleRecord): Uint8Array { return new Writer().u8(1).str(r.peerId).u32(r.registeredAt).done() }
export function decodeRole (data: Uint8Array): RoleRecord {
  return decode('role record', data, 1, r => ({ peerId: r.str(), registeredAt: r.u32() }))
}

export type Role = 'provider' | 'checker'
export interface PeerIndex { role: Role, account: AccountId }
export function encodePeer (p: PeerIndex): Uint8Array { return new Writer().u8(1).u8(p.role === 'provider' ? 0 : 1).fixed(p.account, 32).done() }
export function decodePeer (data: Uint8Array): PeerIndex {
  return decode('peer index', data, 1, r => {
    const role = r.u8()
    if (role > 1) throw new RecordDecodeError(`role ${role}`)
    return { role: role === 0 ? 'provider' : 'checker', account: r.fixed(32) }
  })
}

export interface LeaseTerms { leaseId: string, user: AccountId, provider: AccountId, amount: Amount, pricePerHour: Amount, maxSeconds: number }
export function encodeTerms (t: LeaseTerms): Uint8Array {
  return new Writer().u8(1).str(t.leaseId).fixed(t.user, 32).fixed(t.provider, 32).u128(t.amount).u128(t.pricePerHour).u32(t.maxSeconds).done()
}
export function decodeTerms (data: Uint8Array): LeaseTerms {
  return decode('lease terms', data, 1, r => ({ leaseId: r.str(), user: r.fixed(32), provider: r.fixed(32), amount: r.u128(), pricePerHour: r.u128(), maxSeconds: r.u32() }))
}

export interface LeaseStart { startedAt: number }
export function encodeStart (s: LeaseStart): Uint8Array { return new Writer().u8(1).u64(s.startedAt).done() }
export function decodeStart (data: Uint8Array): LeaseStart { return decode('lease start', data, 1, r => ({ startedAt: Number(r.u64()) })) }

export const CLOSE_REASONS = ['cancelled', 'expired', 'failed'] as const
export type CloseReason = typeof CLOSE_REASONS[number]
export interface LeaseClose { reason: CloseReason, paid: Amount, refunded: Amount, closedAt: number }
export function encodeClose (c: LeaseClose): Uint8Array {
  return new Writer().u8(1).u8(CLOSE_REASONS.indexOf(c.reason)).u128(c.paid).u128(c.refunded).u64(c.closedAt).done()
}
export function decodeClose (data: Uint8Array): LeaseClose {
  return decode('lease close', data, 1, r => {
    const reason = CLOSE_REASONS[r.u8()]
    if (reason == null) throw new RecordDecodeError('unknown close reason')
    return { reason, paid: r.u128(), refunded: r.u128(), closedAt: Number(r.u64()) }
  })
}

/**
 * The settlement item: the root and count, plus where to find the full lists (they ride in a
 * `system.remark` of the same batch, whose blake2 is `listsHash`): the batch is signed at
 * `refHeight` with a mortal era, so it is in one of the `eraPeriod` blocks after it.
 */
export interface SettlementItem { outcomeRoot: Hex, outcomeCount: number, refHeight: number, eraPeriod: number, listsHash: Uint8Array }
export function encodeSettlement (s: SettlementItem): Uint8Array {
  return new Writer().u8(1).fixed(hexBytes(s.outcomeRoot), 32).u32(s.outcomeCount).u32(s.refHeight).u32(s.eraPeriod).fixed(s.listsHash, 32).done()
}
export function decodeSettlement (data: Uint8Array): SettlementItem {
  return decode('settlement', data, 1, r => ({ outcomeRoot: u8aToHex(r.fixed(32)) as Hex, outcomeCount: r.u32(), refHeight: r.u32(), eraPeriod: r.u32(), listsHash: r.fixed(32) }))
}

export interface SettlementLists {
  epoch: number
  rewards: Array<{ to: AccountId, amount: Amount }>
  penalties: Array<{ provider: AccountId, amount: Amount }>
  points: Array<{ to: AccountId, amount: Amount }>
}
/** A magic prefix so a settlement remark is recognisable among other remarks. */
const LISTS_MAGIC = stringToU8a('kaisar-settlement/1')
export function encodeLists (l: SettlementLists): Uint8Array {
  const w = new Writer().fixed(LISTS_MAGIC, LISTS_MAGIC.byteLength).u64(l.epoch)
  for (const list of [l.rewards.map(x => [x.to, x.amount] as const), l.penalties.map(x => [x.provider, x.amount] as const), l.points.map(x => [x.to, x.amount] as const)]) {
    w.u32(list.length)
    for (const [who, amount] of list) w.fixed(who, 32).u128(amount)
  }
  return w.done()
}
export function decodeLists (data: Uint8Array): SettlementLists {
  const r = new Reader(data)
  try {
    const magic = r.fixed(LISTS_MAGIC.byteLength)
    if (u8aToHex(magic) !== u8aToHex(LISTS_MAGIC)) throw new RecordDecodeError('not a settlement remark')
    const epoch = Number(r.u64())
    const readList = (): Array<{ who: AccountId, amount: Amount }> => Array.from({ length: r.u32() }, () => ({ who: r.fixed(32), amount: r.u128() }))
    const rewards = readList().map(x => ({ to: x.who, amount: x.amount }))
    const penalties = readList().map(x => ({ provider: x.who, amount: x.amount }))
    const points = readList().map(x => ({ to: x.who, amount: x.amount }))
    r.end()
    return { epoch, rewards, penalties, points }
  } catch (err) {
    throw new RecordDecodeError(`settlement lists: ${(err as Error).message}`)
  }
}
export function listsHash (encoded: Uint8Array): Uint8Array { return blake2AsU8a(encoded, 256) }

export interface PointsRecord { total: Amount }
export function encodePoints (p: PointsRecord): Uint8Array { return new Writer().u8(1).u128(p.total).done() }
export function decodePoints (data: Uint8Array): PointsRecord { return decode('points', data, 1, r => ({ total: r.u128() })) }

export interface TransferRefRecord { to: AccountId, amount: Amount }
export function encodeTransferRef (t: TransferRefRecord): Uint8Array { return new Writer().u8(1).fixed(t.to, 32).u128(t.amount).done() }
export function decodeTransferRef (data: Uint8Array): TransferRefRecord { return decode('transfer ref', data, 1, r => ({ to: r.fixed(32), amount: r.u128() })) }

/** peaqDid's stored attribute: name, value, validity (block number), created (ms timestamp). */
export interface Attribute { name: Uint8Array, value: Uint8Array, validity: number, created: number }
export function decodeAttribute (data: Uint8Array): Attribute {
  const r = new Reader(data)
  try {
    const out = { name: r.bytes(), value: r.bytes(), validity: r.u32(), created: Number(r.u64()) }
    r.end()
    return out
  } catch (err) {
    throw new RecordDecodeError(`did attribute: ${(err as Error).message}`)
  }
}

export function hexBytes (hex: string): Uint8Array {
  if (!/^0x([0-9a-fA-F]{2})*$/.test(hex)) throw new RangeError(`not hex: ${hex}`)
  return Uint8Array.from(Buffer.from(hex.slice(2), 'hex'))
}
