// The local ledger's additions for Proof of Physical Work: the lists checkers read each epoch
// (providers, checker licences, a provider's escrows from its own index), and
// the settlement's dissent rule: a strike per epoch with a minority verdict, eligibility lost
// at the third within the window (and at that settlement's height), never for a non-checker.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryLevel } from 'memory-level'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LocalChain, UNIT } from '../../chain/local/chain.js'
import { LedgerTxError, type Hex, type LedgerCall } from '../../chain/ledger.js'
import { FastEd25519Signer, type TxSigner } from '../../node/identity/signer.js'
import type { StateDb } from '../../node/store/state-db.js'

async function open (): Promise<LocalChain> {
  const db: StateDb = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
  return await LocalChain.open(db, { hostKey: await generateKeyPair('Ed25519'), idleBlockMs: 200 })
}

async function peer (): Promise<string> { return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString() }

async function wallet (chain: LocalChain): Promise<TxSigner> {
  const w = FastEd25519Signer.random()
  await chain.submit(w, { kind: 'faucet', amount: 1000n * UNIT })
  return w
}

const settle = (epoch: number, dissenters: string[]): LedgerCall => ({ kind: 'settleEpoch', epoch, outcomeRoot: `0x${'cd'.repeat(32)}` as Hex, outcomeCount: 1, rewards: [], penalties: [], points: [], dissenters })

test('lists: providers, checkers (eligible or not) and a provider\'s escrows', async () => {
  const chain = await open()
  const [p1, p2, c1, user] = await Promise.all([wallet(chain), wallet(chain), wallet(chain), wallet(chain)])
  await chain.submit(p1, { kind: 'registerProvider', peerId: await peer(), stake: 100n * UNIT })
  await chain.submit(p2, { kind: 'registerProvider', peerId: await peer(), stake: 100n * UNIT })
  await chain.submit(c1, { kind: 'licenseChecker', peerId: await peer(), stake: 50n * UNIT })
  await chain.submit(user, { kind: 'deposit', leaseId: 'L1', provider: p1.address, amount: 10n * UNIT, pricePerHour: UNIT, maxSeconds: 3600 })
  await chain.submit(user, { kind: 'deposit', leaseId: 'L2', provider: p2.address, amount: 10n * UNIT, pricePerHour: UNIT, maxSeconds: 3600 })
  assert.equal((await chain.providers()).map(p => p.address).sort(), [p1.address, p2.address].sort())
  assert.equal((await chain.checkers()).map(c => c.address), [c1.address])
  assert.equal((await chain.leasesOf(p1.address)).map(e => e.leaseId), ['L1'])
  assert.equal(await chain.leasesOf(user.address), [])
  await chain.close()
})

test('a provider\'s escrows are read from its own index, open and closed; a chain written before the index gets it when opened', async () => {
  const db: StateDb = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
  const hostKey = await generateKeyPair('Ed25519')
  const chain = await LocalChain.open(db, { hostKey, idleBlockMs: 200 })
  const [p1, p2, user] = await Promise.all([wallet(chain), wallet(chain), wallet(chain)])
  await chain.submit(p1, { kind: 'registerProvider', peerId: await peer(), stake: 100n * UNIT })
  await chain.submit(p2, { kind: 'registerProvider', peerId: await peer(), stake: 100n * UNIT })
  const deposit = (leaseId: string, provider: string): LedgerCall => ({ kind: 'deposit', leaseId, provider, amount: UNIT, pricePerHour: UNIT, maxSeconds: 3600 })
  for (let i = 0; i < 30; i++) await chain.submit(user, deposit(`other-${i}`, p2.address))
  await chain.submit(user, deposit('mine-a', p1.address))
  await chain.submit(user, deposit('mine-b', p1.address))
  await chain.submit(user, { kind: 'closeLease', leaseId: 'mine-a', reason: 'cancelled' })

  // Count the keys the store hands out while p1's leases are read: p1's own, not every escrow.
  let scanned = 0
  const keys = db.keys.bind(db)
  db.keys = ((options: Parameters<typeof keys>[0]) => {
    const inner = keys(options)
    return (async function * () { for await (const key of inner) { scanned++; yield key } })()
  }) as unknown as typeof db.keys
  const mine = await chain.leasesOf(p1.address)
  db.keys = keys
  assert.equal(mine.map(e => [e.leaseId, e.status]), [['mine-a', 'closed'], ['mine-b', 'funded']])
  assert.is(scanned, 2, 'two index keys read, not 32 escrows')
  assert.is((await chain.leasesOf(p2.address)).length, 30)
  await chain.close()

  // The same store as a chain of before the index left it: no index keys, no marker.
  for await (const key of db.keys({ gte: 'ledger/lease-of/', lt: 'ledger/lease-of/\xff' })) await db.del(key)
  await db.del('ledger/meta/lease-index')
  const reopened = await LocalChain.open(db, { hostKey, idleBlockMs: 200 })
  assert.equal((await reopened.leasesOf(p1.address)).map(e => e.leaseId), ['mine-a', 'mine-b'])
  assert.is((await reopened.leasesOf(p2.address)).length, 30)
  await reopened.close()
})

test('dissent: a strike per epoch; the third within the window takes the eligibility away', async () => {
  const chain = await open()
  const [settler, liar, honest, prov] = await Promise.all([wallet(chain), wallet(chain), wallet(chain), wallet(chain)])
  for (const c of [settler, liar, honest]) await chain.submit(c, { kind: 'licenseChecker', peerId: await peer(), stake: 50n * UNIT })
  await chain.submit(prov, { kind: 'registerProvider', peerId: await peer(), stake: 100n * UNIT })
  try {
    await chain.submit(settler, settle(1, [prov.address]))
    assert.unreachable('a provider cannot be a dissenter')
  } catch (err) { assert.is((err as LedgerTxError).code, 'WRONG_ROLE') }
  await chain.submit(settler, settle(1, [liar.address]))
  await chain.submit(settler, settle(2, [liar.address, liar.address]))
  assert.is((await chain.checker(liar.address))?.eligible, true, 'two strikes: still eligible')
  assert.equal((await chain.checker(liar.address))?.dissentEpochs, [1, 2], 'a duplicate in one settlement is one strike')
  const receipt = await chain.submit(settler, settle(3, [liar.address]))
  const licence = await chain.checker(liar.address)
  assert.is(licence?.eligible, false)
  assert.is(licence?.ineligibleAt, receipt.height)
  assert.is((await chain.registration(licence?.peerId ?? ''))?.eligible, false)
  assert.is((await chain.checker(honest.address))?.eligible, true)
  assert.is((await chain.settlement(3))?.dissenters?.[0], liar.address)
  // An ineligible checker cannot settle.
  try {
    await chain.submit(liar, settle(4, []))
    assert.unreachable('an ineligible checker settled')
  } catch (err) { assert.is((err as LedgerTxError).code, 'WRONG_ROLE') }
  await chain.close()
})

test('dissent outside the window does not add up', async () => {
  const chain = await open()
  const [settler, c] = await Promise.all([wallet(chain), wallet(chain)])
  for (const x of [settler, c]) await chain.submit(x, { kind: 'licenseChecker', peerId: await peer(), stake: 50n * UNIT })
  await chain.submit(settler, settle(1, [c.address]))
  await chain.submit(settler, settle(2, [c.address]))
  await chain.submit(settler, settle(500, [c.address]))
  assert.is((await chain.checker(c.address))?.eligible, true)
  assert.equal((await chain.checker(c.address))?.dissentEpochs, [500])
  await chain.close()
})

test.run()
