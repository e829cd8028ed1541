// The outcome Merkle tree (DESIGN §1.4): one root per epoch goes on the ledger, the outcomes
// stay with the nodes, and an inclusion proof ties any one outcome to the settled root.
//
// The tree is RFC 6962's (Certificate Transparency, §2.1) with SHA-256: leaves and inner nodes
// are hashed under different prefixes (0x00 / 0x01), so a leaf can never pose as a subtree, and
// a tree of n leaves splits at the largest power of two below n (no duplicated last leaf, so two
// different leaf lists never share a root, the flaw of Bitcoin's tree). Also used for the
// challenge protocol's row commitments.
import { createHash } from 'node:crypto'
import { KaisarError } from '../node/errors.js'

export const HASH_BYTES = 32

export class MerkleProofError extends KaisarError<{ code: 'BAD_MERKLE_INPUT' }> {
  constructor (message: string) { super({ code: 'BAD_MERKLE_INPUT' }, message) }
}

function sha256 (...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

const LEAF = Uint8Array.of(0)
const NODE = Uint8Array.of(1)

export function leafHash (data: Uint8Array): Uint8Array {
  return sha256(LEAF, data)
}

export function nodeHash (left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE, left, right)
}

/** The root of a tree with no leaves: the hash of nothing (RFC 6962). */
export const EMPTY_ROOT: Uint8Array = sha256()

/** A tree over leaf hashes, built once; proofs are read from the stored levels. */
export class MerkleTree {
  /** levels[0] = leaf hashes; each next level pairs the previous (an odd last node moves up as is). */
  private readonly levels: Uint8Array[][]

  private constructor (leafHashes: Uint8Array[]) {
    this.levels = [leafHashes]
    let level = leafHashes
    while (level.length > 1) {
      const next: Uint8Array[] = []
      for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i] as Uint8Array, level[i + 1] as Uint8Array))
      if (level.length % 2 === 1) next.push(level[level.length - 1] as Uint8Array)
      this.levels.push(next)
      level = next
    }
  }

  static fromLeaves (leaves: readonly Uint8Array[]): MerkleTree {
    return new MerkleTree(leaves.map(leafHash))
  }

  static fromLeafHashes (hashes: readonly Uint8Array[]): MerkleTree {
    return new MerkleTree([...hashes])
  }

  get size (): number { return (this.levels[0] as Uint8Array[]).length }

  get root (): Uint8Array {
    if (this.size === 0) return EMPTY_ROOT
    return (this.levels[this.levels.length - 1] as Uint8Array[])[0] as Uint8Array
  }

  /**
   * Audit path of leaf `index`, bottom up. Pairing left to right with the odd node carried up
   * gives exactly RFC 6962's split at the largest power of two, so these are its paths.
   */
  proof (index: number): Uint8Array[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new MerkleProofError(`leaf ${index} is not in a tree of ${this.size}`)
    const path: Uint8Array[] = []
    let i = index
    for (let l = 0; l < this.levels.length - 1; l++) {
      const level = this.levels[l] as Uint8Array[]
      const sibling = i % 2 === 0 ? i + 1 : i - 1
      if (sibling < level.length) path.push(level[sibling] as Uint8Array)
      i = Math.floor(i / 2)
    }
    return path
  }
}

export function merkleRoot (leaves: readonly Uint8Array[]): Uint8Array {
  return MerkleTree.fromLeaves(leaves).root
}

/**
 * Recomputes the root from a leaf's hash, its index, the tree size and the audit path
 * (RFC 9162 §2.1.3.2); true when it equals `root`. Never throws for bad input.
 */
export function verifyInclusionHash (leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return false
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of proof) {
    if (p.byteLength !== HASH_BYTES || sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r)
      if (fn % 2 === 0) {
        // fn is the last node of its level: climb until it is a right child.
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2) }
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && equalBytes(r, root)
}

export function verifyInclusion (leafData: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  return verifyInclusionHash(leafHash(leafData), index, size, proof, root)
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let diff = 0
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}

export const toHex = (bytes: Uint8Array): `0x${string}` => `0x${Buffer.from(bytes).toString('hex')}`
export function fromHex (hex: string): Uint8Array {
  if (!/^0x([0-9a-f]{2})*$/.test(hex)) throw new MerkleProofError(`not 0x-prefixed lowercase hex: ${hex.slice(0, 20)}`)
  return new Uint8Array(Buffer.from(hex.slice(2), 'hex'))
}
