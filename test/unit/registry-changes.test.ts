// The registry read by changes (chain/ledger.ts RegistryPage, node/popw/registry-snapshot.ts):
// the local ledger pages the whole registry or only what changed after a block (registrations,
// slashed stakes, dissent strikes); a node's snapshot asks for the changes only when it is behind,
// and builds the same epoch contexts as reading the whole registry each epoch did.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryLevel } from 'memory-level'
import pino from 'pino'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LocalChain, UNIT } from '../../chain/local/chain.js'
import { LedgerUnavailableError, registryPages, wholeRegistry, type CheckerLicence, type Hex, type Ledger, type LedgerCall, type ProviderRegistration, type RegistryPage } from '../../chain/ledger.js'
import { FastEd25519Signer, type TxSigner } from '../../node/identity/signer.js'
import { encodeJson } from '../../node/network/json-frames.js'
import { MAX_MESSAGE_BYTES } from '../../node/network/reqresp.js'
import { countsAt, EpochRegistry } from '../../node/popw/registry.js'
import { RegistrySnapshot } from '../../node/popw/registry-snapshot.js'
import { EpochSchedule } from '../../protocols/popw/epoch.js'
import type { StateDb } from '../../node/store/state-db.js'

const PAGE = 3

async function open (): Promise<LocalChain> {
  const db: StateDb = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
  return await LocalChain.open(db, { hostKey: await generateKeyPair('Ed25519'), idleBlockMs: 200, registryPageSize: PAGE })
}

async function peer (): Promise<string> { return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString() }

async function wallet (chain: LocalChain): Promise<TxSigner> {
  const w = FastEd25519Signer.random()
  await chain.submit(w, { kind: 'faucet', amount: 1000n * UNIT })
  return w
}

const settle = (epoch: number, c: { penalties?: Array<{ provider: string, amount: bigint }>, dissenters?: string[] }): LedgerCall =>
  ({ kind: 'settleEpoch', epoch, outcomeRoot: `0x${'cd'.repeat(32)}` as Hex, outcomeCount: 1, rewards: [], penalties: c.penalties ?? [], points: [], dissenters: c.dissenters ?? [] })

/** Every page of one answer, in order. */
async function pages (ledger: Pick<Ledger, 'registryChanges'>, since?: number): Promise<RegistryPage[]> {
  const out: RegistryPage[] = []
  for await (const page of registryPages(ledger, since)) out.push(page)
  return out
}

const addresses = (records: Array<{ address: string }>): string[] => records.map(r => r.address).sort()

/** A chain with 4 providers and 2 checkers, each registered in its own block. */
async function registered (): Promise<{ chain: LocalChain, providers: TxSigner[], checkers: TxSigner[] }> {
  const chain = await open()
  const providers = await Promise.all([0, 1, 2, 3].map(async () => await wallet(chain)))
  const checkers = await Promise.all([0, 1].map(async () => await wallet(chain)))
  for (const p of providers) await chain.submit(p, { kind: 'registerProvider', peerId: await peer(), stake: 100n * UNIT })
  for (const c of checkers) await chain.submit(c, { kind: 'licenseChecker', peerId: await peer(), stake: 50n * UNIT })
  return { chain, providers, checkers }
}

test('local ledger: the whole registry in bounded pages, then only what changed after a block', async () => {
  const { chain, providers, checkers } = await registered()
  const whole = await pages(chain)
  assert.ok(whole.length > 1, 'six records in pages of three')
  for (const p of whole) {
    assert.ok(p.providers.length + p.checkers.length <= PAGE, `a page holds at most ${PAGE} records`)
    assert.is(p.full, true)
  }
  const height = whole[0]?.height as number
  assert.is(height, (await chain.head()).height)
  assert.equal(addresses(whole.flatMap(p => p.providers)), addresses(await chain.providers()), 'each provider once')
  assert.equal(addresses(whole.flatMap(p => p.checkers)), addresses(await chain.checkers()), 'each checker once')

  // After `height`: a new provider, a slashed one and a checker's strike; nothing else.
  const [p0] = providers as [TxSigner]
  const [c0, c1] = checkers as [TxSigner, TxSigner]
  const late = await wallet(chain)
  await chain.submit(late, { kind: 'registerProvider', peerId: await peer(), stake: 100n * UNIT })
  await chain.submit(c0, settle(1, { penalties: [{ provider: p0.address, amount: 30n * UNIT }], dissenters: [c1.address] }))
  const changed = await pages(chain, height)
  assert.is(changed[0]?.full, false)
  assert.equal(addresses(changed.flatMap(p => p.providers)), [late.address, p0.address].sort())
  assert.equal(changed.flatMap(p => p.providers).find(r => r.address === p0.address)?.stake, 70n * UNIT, 'the record as it is now')
  assert.equal(changed.flatMap(p => p.checkers).map(l => [l.address, l.dissentEpochs]), [[c1.address, [1]]])

  const head = (await chain.head()).height
  const none = await chain.registryChanges(head)
  assert.equal([none.providers.length, none.checkers.length, none.cursor], [0, 0, undefined], 'nothing after the head')
  assert.is((await chain.registryChanges(head + 100)).full, true, 'a block past the head is another chain\'s: the whole registry')
  // A cursor only moves where the scan starts: before the range it reads all of it, past it nothing.
  assert.equal(addresses((await chain.registryChanges(height, 'ledger/account/')).providers), addresses(changed[0]?.providers ?? []))
  const past = await chain.registryChanges(height, 'ledger/zzz')
  assert.equal([past.providers.length, past.checkers.length], [0, 0])
  await chain.close()
})

test('the whole registry read in pages is the ledger\'s own list; a host whose cursor goes back is not read on', async () => {
  const { chain } = await registered()
  const whole = await wholeRegistry(chain)
  assert.equal(whole.providers, await chain.providers(), 'every provider, in the ledger\'s order')
  assert.equal(whole.checkers, await chain.checkers())

  // A host that pages forever (its cursors go round) would hold the reader for ever.
  const looping: Pick<Ledger, 'registryChanges'> = {
    registryChanges: async (_since, cursor) => ({ height: 1, full: true, providers: [], checkers: [], cursor: cursor === 'b' ? 'a' : 'b' })
  }
  try {
    await wholeRegistry(looping)
    assert.unreachable('read a looping host to the end')
  } catch (err) {
    assert.instance(err, LedgerUnavailableError)
    assert.match((err as Error).message, /went back: cursor a after b/)
  }
})

test('local ledger: a page of the largest records the chain accepts fits one reply', () => {
  const licence: CheckerLicence = {
    address: 'A'.repeat(64), peerId: 'P'.repeat(128), stake: 2n ** 128n - 1n, licensedAt: 999_999_999_999, eligible: false,
    ineligibleAt: 999_999_999_999, dissentEpochs: Array(10).fill(999_999_999_999)
  }
  const registration: ProviderRegistration = { address: 'A'.repeat(64), peerId: 'P'.repeat(128), stake: 2n ** 128n - 1n, registeredAt: 999_999_999_999 }
  const page: RegistryPage = { height: 999_999_999_999, full: true, providers: [], checkers: Array(1000).fill(licence), cursor: `ledger/checker/${'A'.repeat(64)}` }
  assert.ok(encodeJson({ ok: true, result: page }).length < MAX_MESSAGE_BYTES, 'the default page (1,000 records) of licences')
  assert.ok(encodeJson({ ok: true, result: { ...page, checkers: [], providers: Array(1000).fill(registration) } }).length < MAX_MESSAGE_BYTES, 'and of registrations')
})

test('snapshot: reads the whole registry once, then asks for changes only when behind; concurrent callers share one read', async () => {
  const { chain, providers } = await registered()
  const asked: Array<number | undefined> = []
  const ledger = { registryChanges: async (since?: number, cursor?: string) => { if (cursor === undefined) asked.push(since); return await chain.registryChanges(since, cursor) } }
  const snapshot = new RegistrySnapshot(ledger)
  const h1 = (await chain.head()).height
  await Promise.all([snapshot.atLeast(h1), snapshot.atLeast(h1), snapshot.atLeast(h1 - 1)])
  assert.equal(asked, [undefined], 'one whole read for three callers')
  assert.equal(snapshot.providerList().map(e => e.member.address), addresses(await chain.providers()), 'sorted by address')
  assert.equal(snapshot.checkerList().map(e => e.member.address), addresses(await chain.checkers()))
  const list = snapshot.providerList()
  await snapshot.atLeast(h1)
  assert.equal(asked, [undefined], 'not behind: no read')
  assert.is(snapshot.providerList(), list, 'nothing changed: the same sorted list')

  const late = await wallet(chain)
  await chain.submit(late, { kind: 'registerProvider', peerId: await peer(), stake: 100n * UNIT })
  const h2 = (await chain.head()).height
  await snapshot.atLeast(h2)
  assert.equal(asked, [undefined, h1], 'then the changes since the block it had')
  assert.is.not(snapshot.providerList(), list, 'a change sorts anew')
  assert.equal(snapshot.providerList().map(e => e.member.address), addresses(await chain.providers()))
  assert.is(snapshot.providerList().find(e => e.member.address === late.address)?.registeredAt, h2)
  assert.is(snapshot.providerList().length, providers.length + 1)

  try {
    await snapshot.atLeast(h2 + 50)
    assert.unreachable('the ledger is behind')
  } catch (err) { assert.is((err as LedgerUnavailableError).code, 'LEDGER_NOT_YET') }
  await chain.close()
})

test('snapshot: a round cut short leaves the copy at its block; the next read asks again from there', async () => {
  const { chain } = await registered()
  let failNextPage = false
  const ledger = {
    registryChanges: async (since?: number, cursor?: string) => {
      if (cursor !== undefined && failNextPage) { failNextPage = false; throw new LedgerUnavailableError('dropped') }
      return await chain.registryChanges(since, cursor)
    }
  }
  const snapshot = new RegistrySnapshot(ledger)
  failNextPage = true
  try {
    await snapshot.atLeast(1)
    assert.unreachable('the second page failed')
  } catch (err) { assert.instance(err, LedgerUnavailableError) }
  assert.is(snapshot.height, -1)
  assert.is(snapshot.providerList().length, 0, 'a whole read is swapped in only once complete')
  await snapshot.atLeast(1)
  assert.is(snapshot.providerList().length, 4)
  await chain.close()
})

test('epoch registry: the contexts a snapshot builds are those of the whole registry filtered at the seed block', async () => {
  const { chain, checkers } = await registered()
  const logger = pino({ level: 'silent' })
  const schedule = new EpochSchedule(1_000)
  const registry = new EpochRegistry({ ledger: chain, logger }, { schedule, params: { k: 2, backups: 0 } })
  const late = await wallet(chain)
  await chain.submit(late, { kind: 'registerProvider', peerId: await peer(), stake: 100n * UNIT })
  const [c0, c1] = checkers as [TxSigner, TxSigner]
  for (const epoch of [1, 2, 3]) await chain.submit(c0, settle(epoch, { dissenters: [c1.address] })) // c1 loses its licence at the third
  const epoch = schedule.epochAt(Date.now()) + 1
  await new Promise(resolve => setTimeout(resolve, schedule.times(epoch).start - Date.now() + 250))
  for (const e of [epoch - 3, epoch - 1, epoch]) {
    const ctx = await registry.context(e)
    const { height } = await chain.seedAt(schedule.times(e).start)
    assert.equal(ctx.providers.map(m => m.address), addresses((await chain.providers()).filter(r => r.registeredAt <= height)), `providers of epoch ${e}`)
    assert.equal(ctx.checkers.map(m => m.address), addresses((await chain.checkers()).filter(l => countsAt(l, height))), `checkers of epoch ${e}`)
  }
  assert.ok(!(await registry.context(epoch)).checkers.some(m => m.address === c1.address), 'the ineligible checker no longer counts')
  await chain.close()
})

test.run()
