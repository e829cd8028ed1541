import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { NodeRole, openEnvelope, sealEnvelope, MAX_ENVELOPE_BYTES } from '../../protocols/gossip/codec.js'
import { SignedEnvelope } from '../../protocols/gossip/envelope.js'

const TOPIC = 'kaisar/heartbeat/1'
const payload = new TextEncoder().encode('payload')

async function sealed (): Promise<{ bytes: Uint8Array, peer: string }> {
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key)
  return { bytes: await sealEnvelope(key, peerId, TOPIC, NodeRole.PROVIDER, payload, 1_700_000_000_000), peer: peerId.toString() }
}

test('a sealed envelope opens with its signer, role, time and payload', async () => {
  const { bytes, peer } = await sealed()
  const opened = await openEnvelope(TOPIC, bytes)
  assert.ok(opened.ok)
  if (!opened.ok) return
  assert.is(opened.signer.toString(), peer)
  assert.is(opened.envelope.role, NodeRole.PROVIDER)
  assert.is(opened.envelope.timestamp, 1_700_000_000_000n)
  assert.equal(opened.envelope.payload, payload)
})

test('tampering with any signed field breaks the signature', async () => {
  const { bytes } = await sealed()
  const env = SignedEnvelope.decode(bytes)
  for (const change of [
    { role: NodeRole.CHECKER },
    { timestamp: env.timestamp + 1n },
    { payload: new TextEncoder().encode('payloaD') }
  ]) {
    const forged = SignedEnvelope.encode({ ...env, ...change })
    const opened = await openEnvelope(TOPIC, forged)
    assert.equal(opened, { ok: false, reason: 'bad-signature' })
  }
})

test('a signature is bound to its topic (no cross-topic replay)', async () => {
  const { bytes } = await sealed()
  assert.equal(await openEnvelope('kaisar/popw/1', bytes), { ok: false, reason: 'bad-signature' })
})

test('unsigned, malformed, oversized and foreign-signer envelopes are refused with a reason', async () => {
  const { bytes } = await sealed()
  const env = SignedEnvelope.decode(bytes)
  assert.equal(await openEnvelope(TOPIC, SignedEnvelope.encode({ ...env, signature: new Uint8Array(0) })), { ok: false, reason: 'unsigned' })
  assert.equal(await openEnvelope(TOPIC, new Uint8Array([0xff, 0xff, 0xff, 0x01])), { ok: false, reason: 'malformed' })
  assert.equal(await openEnvelope(TOPIC, new Uint8Array(MAX_ENVELOPE_BYTES + 1)), { ok: false, reason: 'too-large' })
  assert.equal(await openEnvelope(TOPIC, SignedEnvelope.encode({ ...env, signer: new Uint8Array([1, 2, 3]) })), { ok: false, reason: 'bad-signer' })
  // Someone else's valid key in the signer field: the signature does not match it.
  const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  assert.equal(await openEnvelope(TOPIC, SignedEnvelope.encode({ ...env, signer: new Uint8Array(other.toMultihash().bytes) })), { ok: false, reason: 'bad-signature' })
})

test.run()
