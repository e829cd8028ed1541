// What the ledger needs of a wallet: an address, a scheme and a way to sign. A polkadot
// KeyringPair is one (sr25519 by default); FastEd25519Signer is another, backed by Node's
// OpenSSL: sr25519 in WASM costs ≈ 2 ms to sign and ≈ 5 ms to verify on this machine,
// OpenSSL's Ed25519 ≈ 0.07 ms and ≈ 0.15 ms, which matters to a ledger host and to tests
// that send thousands of transactions.
import crypto from 'node:crypto'
import { encodeAddress } from '@polkadot/util-crypto'

/** SS58 prefix of the generic Substrate format, which peaq accounts also accept. */
export const SS58_PREFIX = 42

export type SignatureScheme = 'sr25519' | 'ed25519'

export interface TxSigner {
  readonly address: string
  /** Raw 32-byte public key (what the address encodes). */
  readonly publicKey: Uint8Array
  /** KeyringPair's `type`; only sr25519 and ed25519 are accepted by the ledgers. */
  readonly type: string
  sign: (message: string | Uint8Array) => Uint8Array
}

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex')

export class FastEd25519Signer implements TxSigner {
  readonly type = 'ed25519'
  readonly address: string
  readonly publicKey: Uint8Array
  private readonly key: crypto.KeyObject

  constructor (seed: Uint8Array) {
    if (seed.byteLength !== 32) throw new RangeError('an Ed25519 seed is 32 bytes')
    this.key = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' })
    const spki = crypto.createPublicKey(this.key).export({ format: 'der', type: 'spki' })
    this.publicKey = new Uint8Array(spki.subarray(SPKI_ED25519.byteLength))
    this.address = encodeAddress(this.publicKey, SS58_PREFIX)
  }

  static random (): FastEd25519Signer {
    return new FastEd25519Signer(crypto.randomBytes(32))
  }

  sign (message: string | Uint8Array): Uint8Array {
    return new Uint8Array(crypto.sign(null, typeof message === 'string' ? Buffer.from(message) : message, this.key))
  }
}

/** Ed25519 verification through OpenSSL, from a raw 32-byte public key. */
export function verifyEd25519 (message: string | Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.byteLength !== 64 || publicKey.byteLength !== 32) return false
  try {
    const key = crypto.createPublicKey({ key: Buffer.concat([SPKI_ED25519, publicKey]), format: 'der', type: 'spki' })
    return crypto.verify(null, typeof message === 'string' ? Buffer.from(message) : message, key, signature)
  } catch {
    return false
  }
}
