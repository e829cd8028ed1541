// Custody accounts. Every stake and every lease escrow sits in its own account derived from the
// escrow account with pallet_utility's `as_derivative`: anyone can compute the address (so a
// balance on chain *is* the stake or the escrow, and cannot be claimed without being paid), and
// only the escrow account's key can move the funds (by dispatching `as_derivative`).
//
// One `as_derivative` index is a u16, so an id is mapped to a path of 4 indices (64 bits):
// two leases collide with probability ~n²/2⁶⁵, i.e. not before billions of leases.
import { bnToU8a, stringToU8a, u8aConcat } from '@polkadot/util'
import { blake2AsU8a, decodeAddress, encodeAddress } from '@polkadot/util-crypto'
import type { AccountId, Role } from './codec.js'

const DERIVATIVE_PREFIX = stringToU8a('modlpy/utilisuba')

/** pallet_utility::derivative_account_id: blake2_256("modlpy/utilisuba" ‖ who ‖ u16 LE index). */
export function derivativeAccount (who: AccountId, index: number): AccountId {
  if (!Number.isInteger(index) || index < 0 || index > 0xffff) throw new RangeError(`derivative index ${index} is not a u16`)
  return blake2AsU8a(u8aConcat(DERIVATIVE_PREFIX, who, bnToU8a(index, { bitLength: 16, isLe: true })), 256)
}

/** A path of as_derivative indices, outermost first. */
export type CustodyPath = readonly [number, number, number, number]

export function custodyPath (domain: string, id: string | Uint8Array): CustodyPath {
  const h = blake2AsU8a(u8aConcat(stringToU8a(`${domain}\n`), typeof id === 'string' ? stringToU8a(id) : id), 64)
  const at = (i: number): number => ((h[2 * i] as number) | ((h[2 * i + 1] as number) << 8))
  return [at(0), at(1), at(2), at(3)]
}

/** The account `as_derivative(p0, as_derivative(p1, …))` dispatched by `root` acts as. */
export function custodyAccount (root: AccountId, path: CustodyPath): AccountId {
  return path.reduce<AccountId>((who, index) => derivativeAccount(who, index), root)
}

/** Where custody accounts are derived from, for one deployment (one escrow account and namespace). */
export class Custody {
  readonly escrow: AccountId
  constructor (escrow: string | AccountId, private readonly namespace: string) {
    this.escrow = typeof escrow === 'string' ? decodeAddress(escrow) : escrow
  }

  leasePath (leaseId: string): CustodyPath { return custodyPath(`${this.namespace}/lease`, leaseId) }
  stakePath (role: Role, account: AccountId): CustodyPath { return custodyPath(`${this.namespace}/stake/${role}`, account) }
  lease (leaseId: string): AccountId { return custodyAccount(this.escrow, this.leasePath(leaseId)) }
  stake (role: Role, account: AccountId): AccountId { return custodyAccount(this.escrow, this.stakePath(role, account)) }
}

/** Raw account id of an SS58 address (any prefix); throws on a malformed address. */
export function accountId (address: string): AccountId {
  const id = decodeAddress(address)
  if (id.byteLength !== 32) throw new RangeError(`${address} is not a 32-byte account`)
  return id
}

export function sameAccount (a: AccountId, b: AccountId): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i])
}

export function toAddress (id: AccountId, ss58: number): string {
  return encodeAddress(id, ss58)
}
