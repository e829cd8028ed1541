// Domain-separated signatures (protocols/signing.ts) and the memo of verification verdicts: a
// remembered verdict is only ever reused for exactly the same signer, domain, body and signature.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { signWithDomain, verifyWithDomain } from '../../protocols/signing.js'

test('a verdict is reused only for the very same bytes', async () => {
  const key = await generateKeyPair('Ed25519')
  const signer = peerIdFromPrivateKey(key).toMultihash().bytes
  const body = new TextEncoder().encode('heartbeat 1')
  const signature = await signWithDomain(key, 'kaisar/heartbeat/1', body)

  for (let i = 0; i < 2; i++) assert.is((await verifyWithDomain(signer, 'kaisar/heartbeat/1', body, signature)).ok, true, `valid (${i === 0 ? 'verified' : 'remembered'})`)
  // The remembered "valid" must not leak to anything else signed-looking.
  assert.equal(await verifyWithDomain(signer, 'kaisar/heartbeat/1', new TextEncoder().encode('heartbeat 2'), signature), { ok: false, reason: 'bad-signature' })
  assert.equal(await verifyWithDomain(signer, 'kaisar/popw/1', body, signature), { ok: false, reason: 'bad-signature' })
  const flipped = Uint8Array.from(signature); flipped[10] = (flipped[10] as number) ^ 1
  assert.equal(await verifyWithDomain(signer, 'kaisar/heartbeat/1', body, flipped), { ok: false, reason: 'bad-signature' })
  const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toMultihash().bytes
  assert.equal(await verifyWithDomain(other, 'kaisar/heartbeat/1', body, signature), { ok: false, reason: 'bad-signature' })
  // And a remembered "invalid" stays invalid.
  assert.equal(await verifyWithDomain(signer, 'kaisar/heartbeat/1', body, flipped), { ok: false, reason: 'bad-signature' })
  assert.is((await verifyWithDomain(signer, 'kaisar/heartbeat/1', body, signature)).ok, true)
})

test('bad input is refused without exceptions', async () => {
  const key = await generateKeyPair('Ed25519')
  const body = new Uint8Array([1])
  const signature = await signWithDomain(key, 'd', body)
  assert.equal(await verifyWithDomain(new Uint8Array(), 'd', body, signature), { ok: false, reason: 'unsigned' })
  assert.equal(await verifyWithDomain(new Uint8Array([1, 2, 3]), 'd', body, signature), { ok: false, reason: 'bad-signer' })
  assert.equal(await verifyWithDomain(peerIdFromPrivateKey(key).toMultihash().bytes, 'd', body, signature.subarray(1)), { ok: false, reason: 'bad-signer' })
})

test.run()
