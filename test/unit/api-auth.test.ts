import { Keyring } from '@polkadot/keyring'
import { cryptoWaitReady } from '@polkadot/util-crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { AUTH_HEADERS, MAX_SKEW_MS, RequestVerifier, signRequest } from '../../node/api/auth.js'

const body = new TextEncoder().encode('{"lease":"L1"}')

test('a signed request verifies once, as its signer', async () => {
  await cryptoWaitReady()
  for (const type of ['sr25519', 'ed25519'] as const) {
    const wallet = new Keyring({ type }).addFromUri('//Alice')
    const now = 1_700_000_000_000
    const verifier = new RequestVerifier(() => now)
    const headers = signRequest(wallet, 'POST', '/api/v1/leases', body, now)
    assert.equal(verifier.verify('POST', '/api/v1/leases', headers, body), { ok: true, address: wallet.address })
    assert.equal(verifier.verify('POST', '/api/v1/leases', headers, body), { ok: false, reason: 'replayed' })
  }
})

test('tampered, foreign, stale and unsigned requests are refused with a reason', async () => {
  await cryptoWaitReady()
  const alice = new Keyring({ type: 'sr25519' }).addFromUri('//Alice')
  const bob = new Keyring({ type: 'sr25519' }).addFromUri('//Bob')
  const now = 1_700_000_000_000
  const verifier = new RequestVerifier(() => now)
  const headers = signRequest(alice, 'POST', '/api/v1/leases', body, now)
  assert.equal(verifier.verify('POST', '/api/v1/leases', headers, new TextEncoder().encode('{"lease":"L2"}')), { ok: false, reason: 'bad-signature' })
  assert.equal(verifier.verify('DELETE', '/api/v1/leases', headers, body), { ok: false, reason: 'bad-signature' })
  assert.equal(verifier.verify('POST', '/api/v1/leases', { ...headers, [AUTH_HEADERS.address]: bob.address }, body), { ok: false, reason: 'bad-signature' })
  assert.equal(verifier.verify('POST', '/api/v1/leases', signRequest(alice, 'POST', '/api/v1/leases', body, now - MAX_SKEW_MS - 1), body), { ok: false, reason: 'expired' })
  assert.equal(verifier.verify('POST', '/api/v1/leases', {}, body), { ok: false, reason: 'missing' })
  assert.equal(verifier.verify('POST', '/api/v1/leases', { ...headers, [AUTH_HEADERS.timestamp]: 'soon' }, body), { ok: false, reason: 'bad-timestamp' })
  assert.equal(verifier.verify('POST', '/api/v1/leases', { ...headers, [AUTH_HEADERS.signature]: '0x1234' }, body), { ok: false, reason: 'bad-signature' })
})

test.run()
