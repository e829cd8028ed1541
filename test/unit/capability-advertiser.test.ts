// The provider's capability advertiser (node/roles/provider/capability-advertiser.ts) against a
// fake DHT: a provide counts only once a peer took the record, and a provide that keeps running
// out of time gets more of it each round instead of the same limit again.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { multiaddr } from '@multiformats/multiaddr'
import pino from 'pino'
import { CapabilityAdvertiser } from '../../node/roles/provider/capability-advertiser.js'
import type { Capability } from '../../protocols/capabilities.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'

const REGION: Capability[] = [{ kind: 'region', value: 'eu' }]

interface Attempt { at: number, timedOut: boolean, held: boolean }

/** A DHT whose walk takes `walkMs`, then one peer takes the record; each call's fate is recorded. */
function fakeLibp2p (walkMs: number, attempts: Attempt[]): KaisarLibp2p {
  const t0 = Date.now()
  const provide = async function * (_key: unknown, options: { signal: AbortSignal }): AsyncGenerator<{ name: string, messageName?: string }> {
    const attempt: Attempt = { at: Date.now() - t0, timedOut: false, held: false }
    attempts.push(attempt)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, walkMs)
      options.signal.addEventListener('abort', () => { clearTimeout(timer); attempt.timedOut = true; reject(options.signal.reason) }, { once: true })
    })
    attempt.held = true
    yield { name: 'PEER_RESPONSE', messageName: 'ADD_PROVIDER' }
  }
  return {
    getMultiaddrs: () => [multiaddr('/ip4/127.0.0.1/tcp/4001')],
    services: { dht: { provide } }
  } as unknown as KaisarLibp2p
}

async function until (cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!cond() && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 10))
}

test('a walk longer than the first limit succeeds on a later round, with a longer limit', async () => {
  const attempts: Attempt[] = []
  // The walk takes 150 ms: the limits are 60, 120, then 240 ms, so the third round gets through.
  const advertiser = new CapabilityAdvertiser({ libp2p: fakeLibp2p(150, attempts), logger: pino({ level: 'silent' }) }, () => REGION, { provideTimeoutMs: 60, retryMs: 10 })
  await advertiser.start()
  try {
    assert.is(advertiser.outstanding, 1)
    await until(() => advertiser.outstanding === 0, 5_000)
    assert.is(advertiser.outstanding, 0, `still unprovided after ${attempts.length} attempts`)
    assert.equal(attempts.map(a => a.timedOut), [true, true, false])
    assert.ok(attempts[2]?.held)
  } finally {
    await advertiser.stop()
  }
})

test('a provide that a peer took is done, and the advertiser does not repeat it', async () => {
  const attempts: Attempt[] = []
  const advertiser = new CapabilityAdvertiser({ libp2p: fakeLibp2p(5, attempts), logger: pino({ level: 'silent' }) }, () => REGION, { provideTimeoutMs: 1_000, retryMs: 10 })
  await advertiser.start()
  try {
    await until(() => advertiser.outstanding === 0, 3_000)
    assert.is(advertiser.outstanding, 0)
    assert.is(attempts.length, 1)
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.is(attempts.length, 1, 'a provided capability is not provided again by the advertiser (kad-dht re-provides it)')
  } finally {
    await advertiser.stop()
  }
})

test.run()
