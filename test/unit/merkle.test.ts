// chain/merkle.ts: the outcome tree. Checked against RFC 6962's recursive definition (an
// independent implementation below) for every size up to 70, against a fixed root (so a change
// of hash or prefixes is caught), and proofs must fail for any other leaf, index, size or root.
import { createHash } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EMPTY_ROOT, MerkleTree, leafHash, merkleRoot, toHex, verifyInclusion, verifyInclusionHash } from '../../chain/merkle.js'

const sha = (...parts: Uint8Array[]): Uint8Array => { const h = createHash('sha256'); for (const p of parts) h.update(p); return new Uint8Array(h.digest()) }

/** RFC 6962 §2.1 MTH, written from the RFC's text. */
function mth (d: Uint8Array[]): Uint8Array {
  if (d.length === 0) return sha()
  if (d.length === 1) return sha(Uint8Array.of(0), d[0] as Uint8Array)
  let k = 1
  while (k * 2 < d.length) k *= 2
  return sha(Uint8Array.of(1), mth(d.slice(0, k)), mth(d.slice(k)))
}

const leaves = (n: number): Uint8Array[] => [...Array(n).keys()].map(i => Buffer.from(`outcome-${i}`))

test('roots equal RFC 6962 MTH for every size 0..70', () => {
  for (let n = 0; n <= 70; n++) assert.equal(toHex(merkleRoot(leaves(n))), toHex(mth(leaves(n))), `size ${n}`)
  assert.equal(toHex(EMPTY_ROOT), '0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
})

test('a fixed root: hash and domain prefixes do not drift', () => {
  // RFC 6962 test vector inputs (certificate-transparency's merkle_tree_test): the 8 leaves
  // "", 00, 10, 2021, 3031, 40414243, 5051525354555657, 606162636465666768696a6b6c6d6e6f.
  const hex = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f']
  const data = hex.map(h => new Uint8Array(Buffer.from(h, 'hex')))
  assert.is(toHex(merkleRoot(data)), '0x5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328')
  assert.is(toHex(merkleRoot(data.slice(0, 1))), '0x6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d')
})

test('every proof verifies, for every size 1..40 and every index', () => {
  for (let n = 1; n <= 40; n++) {
    const d = leaves(n)
    const tree = MerkleTree.fromLeaves(d)
    for (let i = 0; i < n; i++) {
      const proof = tree.proof(i)
      assert.ok(proof.length <= Math.ceil(Math.log2(n)) + 0, `proof of ${i}/${n} is at most log2(n) long`)
      assert.ok(verifyInclusion(d[i] as Uint8Array, i, n, proof, tree.root), `leaf ${i} of ${n}`)
    }
  }
})

test('a proof fails for another leaf, index, size, root or a tampered path', () => {
  const n = 13
  const d = leaves(n)
  const tree = MerkleTree.fromLeaves(d)
  for (let i = 0; i < n; i++) {
    const proof = tree.proof(i)
    const leaf = d[i] as Uint8Array
    assert.not.ok(verifyInclusion(Buffer.from('forged'), i, n, proof, tree.root), 'other leaf')
    assert.not.ok(verifyInclusion(leaf, (i + 1) % n, n, proof, tree.root), 'other index')
    // The root commits to the size; a path only depends on it where the tree is ragged (the last leaf here).
    if (i === n - 1) assert.not.ok(verifyInclusion(leaf, i, n + 1, proof, tree.root), 'other size')
    assert.not.ok(verifyInclusion(leaf, i, n, proof, merkleRoot(d.slice(1))), 'other root')
    if (proof.length > 0) {
      const bad = proof.map(p => new Uint8Array(p))
      const first = bad[0] as Uint8Array
      first[0] = (first[0] as number) ^ 1
      assert.not.ok(verifyInclusion(leaf, i, n, bad, tree.root), 'tampered path')
      assert.not.ok(verifyInclusion(leaf, i, n, proof.slice(1), tree.root), 'short path')
      assert.not.ok(verifyInclusion(leaf, i, n, [...proof, proof[0] as Uint8Array], tree.root), 'long path')
    }
  }
  // A leaf is never accepted as an inner node: the inner node's children do not verify as a leaf.
  const two = MerkleTree.fromLeaves(d.slice(0, 2))
  assert.not.ok(verifyInclusionHash(leafHash(d[0] as Uint8Array), 0, 1, [], two.root))
  assert.not.ok(verifyInclusion(d[0] as Uint8Array, -1, n, tree.proof(0), tree.root))
  assert.throws(() => tree.proof(n))
})

test.run()
