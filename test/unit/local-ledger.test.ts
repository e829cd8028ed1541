// Issue 3, done-when 1 (in process): the local ledger refuses double spends, bad
// signatures, replayed nonces, overdrafts and wrong roles with a clear reason; 10,000
// concurrent transfers from 10 accounts are all accounted for with balances conserved;
// a host restarted mid-run resumes at the same height.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Keyring } from '@polkadot/keyring'
import { cryptoWaitReady } from '@polkadot/util-crypto'
import { Level } from 'level'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LocalChain, moduleAccount, UNIT } from '../../chain/local/chain.js'
import { signTx } from '../../chain/local/codec.js'
import { LedgerTxError, LedgerUnavailableError, type LedgerCall } from '../../chain/ledger.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import type { StateDb } from '../../node/store/state-db.js'
import { FastEd25519Signer, type TxSigner } from '../../node/identity/signer.js'
import type { PrivateKey } from '@libp2p/interface'

test.after(removeTempDirs)

let hostKey: PrivateKey
const keyring = (): Keyring => new Keyring({ type: 'sr25519', ss58Format: 42 })

test.before(async () => {
  await cryptoWaitReady()
  hostKey = await generateKeyPair('Ed25519')
})

async function openChain (dir?: string): Promise<{ chain: LocalChain, db: StateDb, dir: string }> {
  const d = dir ?? await tempDir()
  const db: StateDb = new Level<string, Uint8Array>(path.join(d, 'state'), { valueEncoding: 'view' })
  await db.open()
  return { chain: await LocalChain.open(db, { hostKey, idleBlockMs: 200 }), db, dir: d }
}

async function refused (p: Promise<unknown>, code: string): Promise<LedgerTxError> {
  try {
    await p
  } catch (err) {
    assert.instance(err, LedgerTxError, `expected LedgerTxError ${code}, got ${String(err)}`)
    assert.is((err as LedgerTxError).code, code, (err as Error).message)
    assert.ok((err as Error).message.length > 10, 'has a reason')
    return err as LedgerTxError
  }
  assert.unreachable(`expected ${code}`)
  throw new Error('unreachable')
}

async function funded (chain: LocalChain, uri: string | TxSigner, amount = 1000n * UNIT): Promise<TxSigner> {
  const w = typeof uri === 'string' ? keyring().addFromUri(uri) : uri
  await chain.submit(w, { kind: 'faucet', amount })
  return w
}

test('transfers move balance; every refusal names its reason and changes nothing', async () => {
  const { chain, db } = await openChain()
  const alice = await funded(chain, '//Alice')
  const bob = keyring().addFromUri('//Bob')
  await chain.submit(alice, { kind: 'transfer', to: bob.address, amount: 10n * UNIT })
  assert.is((await chain.account(bob.address)).free, 10n * UNIT)

  // Insufficient balance (consumes the nonce, moves nothing).
  const before = await chain.account(alice.address)
  await refused(chain.submit(alice, { kind: 'transfer', to: bob.address, amount: 10_000n * UNIT }), 'INSUFFICIENT_BALANCE')
  const after = await chain.account(alice.address)
  assert.is(after.free, before.free)
  assert.is(after.nonce, before.nonce + 1)

  // Double spend: two transfers of 60 % of the balance, each signed validly; only one lands.
  const half = after.free * 6n / 10n
  const results = await Promise.allSettled([
    chain.submit(alice, { kind: 'transfer', to: bob.address, amount: half }),
    chain.submit(alice, { kind: 'transfer', to: moduleAccount('sink'), amount: half })
  ])
  assert.is(results.filter(r => r.status === 'fulfilled').length, 1)
  const rejected = results.find(r => r.status === 'rejected') as PromiseRejectedResult
  assert.is((rejected.reason as LedgerTxError).code, 'INSUFFICIENT_BALANCE')

  // The same nonce twice (a double spend racing for one slot): the second is refused at once.
  const nonce = await chain.nextNonce(alice.address)
  const first = chain.submitSigned(signTx(alice, chain.genesisHash, nonce, { kind: 'transfer', to: bob.address, amount: 1n }))
  await refused(chain.submitSigned(signTx(alice, chain.genesisHash, nonce, { kind: 'transfer', to: moduleAccount('sink'), amount: 1n })), 'NONCE_REPLAYED')
  await first

  // Replay of an included transaction.
  const tx = signTx(alice, chain.genesisHash, await chain.nextNonce(alice.address), { kind: 'transfer', to: bob.address, amount: 1n })
  await chain.submitSigned(tx)
  await refused(chain.submitSigned(tx), 'NONCE_REPLAYED')

  // Bad signature: signed by Bob, claimed by Alice; and signed for another chain.
  const forged = { ...signTx(bob, chain.genesisHash, await chain.nextNonce(alice.address), { kind: 'transfer', to: bob.address, amount: 1n }), signer: alice.address }
  await refused(chain.submitSigned(forged), 'BAD_SIGNATURE')
  const otherChain = signTx(alice, ('0x' + '11'.repeat(32)) as `0x${string}`, await chain.nextNonce(alice.address), { kind: 'transfer', to: bob.address, amount: 1n })
  await refused(chain.submitSigned(otherChain), 'BAD_SIGNATURE')

  // Idempotent transfer refs.
  await chain.submit(alice, { kind: 'transfer', to: bob.address, amount: 1n, ref: 'invoice-7' })
  await refused(chain.submit(alice, { kind: 'transfer', to: bob.address, amount: 1n, ref: 'invoice-7' }), 'DUPLICATE')
  await chain.close()
  await db.close()
})

test('roles: leases need a registered provider, settlements a licensed checker; escrow pays time served', async () => {
  let now = 1_700_000_000_000
  const dir = await tempDir()
  const db: StateDb = new Level<string, Uint8Array>(path.join(dir, 'state'), { valueEncoding: 'view' })
  const chain = await LocalChain.open(db, { hostKey, idleBlockMs: 200, now: () => now })
  const user = await funded(chain, '//User')
  const prov = await funded(chain, '//Provider')
  const check = await funded(chain, '//Checker')
  const peer = (await generateKeyPair('Ed25519')).publicKey
  const { peerIdFromPublicKey } = await import('@libp2p/peer-id')
  const provPeer = peerIdFromPublicKey(peer).toString()
  const checkPeer = peerIdFromPublicKey((await generateKeyPair('Ed25519')).publicKey).toString()

  const deposit: LedgerCall = { kind: 'deposit', leaseId: 'L1', provider: prov.address, amount: 20n * UNIT, pricePerHour: 10n * UNIT, maxSeconds: 7200 }
  await refused(chain.submit(user, deposit), 'WRONG_ROLE')
  await refused(chain.submit(prov, { kind: 'registerProvider', peerId: provPeer, stake: 1n }), 'BAD_CALL') // below minimum stake
  await chain.submit(prov, { kind: 'registerProvider', peerId: provPeer, stake: 100n * UNIT })
  await refused(chain.submit(prov, { kind: 'registerProvider', peerId: provPeer, stake: 100n * UNIT }), 'DUPLICATE')
  await refused(chain.submit(check, { kind: 'registerProvider', peerId: provPeer, stake: 100n * UNIT }), 'WRONG_ROLE') // someone else's peer
  assert.equal((await chain.registration(provPeer))?.role, 'provider')
  assert.is((await chain.account(prov.address)).locked, 100n * UNIT)

  await refused(chain.submit(user, { ...deposit, amount: 1n * UNIT }), 'BAD_CALL') // does not cover 2 h at 10/h
  await chain.submit(user, deposit)
  await refused(chain.submit(user, deposit), 'DUPLICATE')
  await refused(chain.submit(user, { kind: 'startLease', leaseId: 'L1' }), 'NOT_ALLOWED')
  await chain.submit(prov, { kind: 'startLease', leaseId: 'L1' })
  now += 30 * 60 * 1000 // 30 minutes served
  const provFree = (await chain.account(prov.address)).free
  const userFree = (await chain.account(user.address)).free
  await chain.submit(user, { kind: 'closeLease', leaseId: 'L1', reason: 'cancelled' })
  const escrow = await chain.escrow('L1')
  assert.is(escrow?.status, 'closed')
  // Paid time is the ledger's: from the start block's time to the close block's time.
  const served = Math.floor(((escrow?.closedAt ?? 0) - (escrow?.startedAt ?? 0)) / 1000)
  assert.ok(Math.abs(served - 1800) <= 1, `served ${served} s`)
  const pay = 10n * UNIT * BigInt(served) / 3600n
  assert.is(escrow?.paidToProvider, pay)
  assert.is(escrow?.refunded, 20n * UNIT - pay)
  assert.is((await chain.account(prov.address)).free - provFree, pay)
  assert.is((await chain.account(user.address)).free - userFree, 20n * UNIT - pay)
  await refused(chain.submit(prov, { kind: 'closeLease', leaseId: 'L1', reason: 'expired' }), 'DUPLICATE')
  await refused(chain.submit(user, { kind: 'closeLease', leaseId: 'nope', reason: 'expired' }), 'UNKNOWN_LEASE')

  const settle: LedgerCall = { kind: 'settleEpoch', epoch: 1, outcomeRoot: ('0x' + 'ab'.repeat(32)) as `0x${string}`, outcomeCount: 1, rewards: [{ to: check.address, amount: 3n * UNIT }], penalties: [{ provider: prov.address, amount: 10n * UNIT }], points: [{ to: user.address, amount: 7n }] }
  await refused(chain.submit(user, settle), 'WRONG_ROLE')
  await chain.submit(check, { kind: 'licenseChecker', peerId: checkPeer, stake: 50n * UNIT })
  const checkFree = (await chain.account(check.address)).free
  await chain.submit(check, settle)
  await refused(chain.submit(check, settle), 'DUPLICATE')
  assert.is((await chain.account(check.address)).free - checkFree, 3n * UNIT)
  assert.is((await chain.provider(prov.address))?.stake, 90n * UNIT)
  assert.is((await chain.account(user.address)).points, 7n)
  assert.is((await chain.settlement(1))?.outcomeRoot, settle.outcomeRoot)
  await chain.close()
  await db.close()
})

test('10,000 transfers from 10 accounts, sent concurrently: all accounted for, balances conserved', async () => {
  const { chain, db } = await openChain()
  // Ed25519 wallets (OpenSSL): sr25519 in WASM would spend ≈ 70 s here signing and verifying.
  const senders = await Promise.all([...Array(10).keys()].map(async () => await funded(chain, FastEd25519Signer.random(), 5000n * UNIT)))
  const receivers = [...Array(10).keys()].map(i => keyring().addFromUri(`//Receiver${i}`).address)
  const everyone = [...senders.map(s => s.address), ...receivers, moduleAccount('treasury')]
  const supply = await chain.totalOf(everyone)
  const sends: Array<Promise<unknown>> = []
  for (let n = 0; n < 1000; n++) {
    for (const [i, s] of senders.entries()) sends.push(chain.submit(s, { kind: 'transfer', to: receivers[(i + n) % 10] as string, amount: BigInt(1 + (n % 7)) * UNIT }))
  }
  const results = await Promise.allSettled(sends)
  assert.is(results.filter(r => r.status === 'fulfilled').length, 10_000, String((results.find(r => r.status === 'rejected') as PromiseRejectedResult | undefined)?.reason))
  let expected = 0n
  for (let n = 0; n < 1000; n++) expected += BigInt(1 + (n % 7)) * UNIT * 10n
  let received = 0n
  for (const r of receivers) received += (await chain.account(r)).free
  assert.is(received, expected)
  for (const s of senders) assert.is((await chain.account(s.address)).nonce, 1001)
  assert.is(await chain.totalOf(everyone), supply, 'sum of balances conserved')
  await chain.close()
  await db.close()
})

test('a host restarted mid-run resumes at the same height with the same state', async () => {
  const { chain, db, dir } = await openChain()
  const alice = await funded(chain, '//Alice')
  const bob = keyring().addFromUri('//Bob')
  const inFlight = [...Array(200).keys()].map(async () => await chain.submit(alice, { kind: 'transfer', to: bob.address, amount: 1n }))
  await Promise.race(inFlight) // some are in a block, some still pending
  await chain.close()
  const outcomes = await Promise.allSettled(inFlight)
  const landed = outcomes.filter(r => r.status === 'fulfilled').length
  for (const r of outcomes) if (r.status === 'rejected') assert.instance(r.reason, LedgerUnavailableError)
  const head = await chain.head()
  await db.close()

  const reopened = await openChain(dir)
  assert.equal(await reopened.chain.head(), head)
  assert.is(reopened.chain.genesisHash, chain.genesisHash)
  assert.is((await reopened.chain.account(bob.address)).free, BigInt(landed))
  assert.is((await reopened.chain.account(alice.address)).nonce, 1 + landed)
  await reopened.chain.submit(alice, { kind: 'transfer', to: bob.address, amount: 1n })
  assert.is((await reopened.chain.head()).height, head.height + 1)
  const block = await reopened.chain.block(head.height + 1)
  assert.is(block?.parent, head.hash, 'hash-chained across the restart')
  await reopened.chain.close()
  await reopened.db.close()
})

test('seeds: final once the clock has passed, different per block, refused for the future', async () => {
  let now = 1_800_000_000_000
  const dir = await tempDir()
  const db: StateDb = new Level<string, Uint8Array>(path.join(dir, 'state'), { valueEncoding: 'view' })
  const chain = await LocalChain.open(db, { hostKey, idleBlockMs: 60_000, now: () => now })
  const alice = await funded(chain, '//Alice')
  const t1 = now
  now += 1000
  await chain.submit(alice, { kind: 'faucet', amount: 1n })
  const t2 = now
  now += 1000
  const s1 = await chain.seedAt(t1)
  const s2 = await chain.seedAt(t2)
  assert.is.not(s1.seed, s2.seed)
  assert.equal(await chain.seedAt(t1), s1, 'the same answer every time')
  try { await chain.seedAt(now + 5000); assert.unreachable('future seed') } catch (err) { assert.instance(err, LedgerUnavailableError) }
  await chain.close()
  await db.close()
})

test.run()
