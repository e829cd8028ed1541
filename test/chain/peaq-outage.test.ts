// The durable outbox (chain/outbox.ts) over the peaq Ledger while the chain goes away: a real
// peaq runtime under chopsticks, reached through a loopback proxy the test can cut, its process
// frozen (SIGSTOP) and thawed (SIGCONT) by the test. What must hold: every settlement the node
// owes is applied, and none twice, also when an attempt's answer is lost after the chain got it.
//
// Why not kill and restart chopsticks: it cannot resume a --genesis chain (see
// scripts/peaq-chopsticks.mjs); a frozen process plus a cut connection gives the same two
// faces of "unreachable" (no answer; connection refused) without losing the chain.
import { Level } from 'level'
import { u8aToHex } from '@polkadot/util'
import { blake2AsU8a } from '@polkadot/util-crypto'
import { pino } from 'pino'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LedgerTxError, LedgerUnavailableError, type Hex, type LedgerCall } from '../../chain/ledger.js'
import { Outbox } from '../../chain/outbox.js'
import { createPeaqLedger, type PeaqLedger } from '../../chain/peaq/index.js'
import { Names } from '../../chain/peaq/codec.js'
import { UNIT, countAppliedItems, devApi, free, fund, keyring, peaqSuiteEnabled, startChopsticks, stopAllChopsticks, type Chopsticks } from '../helpers/peaq.js'
import { tcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import type { ApiPromise } from '@polkadot/api'
import type { StateDb } from '../../node/store/state-db.js'

const OUTAGE_MS = 30_000
const REQUEST_TIMEOUT_MS = 3_000
const log = pino({ level: 'silent' })
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, Math.max(0, ms))) }

/** How long `fn` takes to reject, and with what. */
async function timeToFail (fn: () => Promise<unknown>): Promise<{ ms: number, err: unknown }> {
  const t = Date.now()
  try { await fn() } catch (err) { return { ms: Date.now() - t, err } }
  return assert.unreachable('expected a failure') as never
}

if (peaqSuiteEnabled(test, 'test/chain/peaq-outage.test.ts')) {
  const k = await keyring()
  const tag = `${process.pid}-${Date.now()}`
  const escrow = k.addFromUri(`//kaisar-escrow-${tag}`)
  const checker = k.addFromUri(`//kaisar-checker-${tag}`)
  const names = new Names('kaisar')
  const base = 1 + (Date.now() % 100_000)
  const epochs = [base, base + 1, base + 2]
  const rootOf = (epoch: number): Hex => u8aToHex(blake2AsU8a(`root-${tag}-${epoch}`, 256)) as Hex
  const settle = (epoch: number, amount: bigint): LedgerCall => ({ kind: 'settleEpoch', epoch, outcomeRoot: rootOf(epoch), outcomeCount: 10, rewards: [{ to: checker.address, amount }], penalties: [], points: [] })
  const key = (epoch: number): string => `settle/${epoch}`

  let chop: Chopsticks
  let proxy: TcpProxy
  let api: ApiPromise
  let ledger: PeaqLedger
  let db: StateDb
  let outbox: Outbox
  const newOutbox = (): Outbox => new Outbox({ ledger, wallet: escrow, db, logger: log }, { minBackoffMs: 250, maxBackoffMs: 2_000 })

  // Setup is a test, not a before hook: uvu 0.5 reports a throwing before hook as a pass.
  test('a peaq runtime starts behind a cuttable proxy, the escrow account is funded', async () => {
    chop = await startChopsticks()
    proxy = await tcpProxy(chop.port)
    ledger = await createPeaqLedger(`ws://127.0.0.1:${proxy.port}`, {
      escrow: escrow.address, reconnectDelayMs: 500, requestTimeoutMs: REQUEST_TIMEOUT_MS, inclusionTimeoutMs: 10_000, logger: log
    })
    api = await devApi(chop.url) // the test's own line to the chain, not through the proxy
    await fund(api, [{ to: escrow.address, amount: 1000n * UNIT }, { to: checker.address, amount: 1n * UNIT }])
    db = new Level<string, Uint8Array>(await tempDir('kaisar-outbox-'), { valueEncoding: 'view' })
    await db.open()
  })

  test.after(async () => {
    await outbox?.stop().catch(() => {})
    chop?.resume()
    await ledger?.close()
    await api?.disconnect()
    await proxy?.close()
    await db?.close()
    await stopAllChopsticks()
    await removeTempDirs()
  })

  test('chain unreachable for 30 s during settlement: nothing lost, nothing settled twice', async () => {
    const [e1, e2] = epochs as [number, number]
    const before = await free(api, checker.address)
    outbox = newOutbox()
    await outbox.start()

    // Freeze the chain the moment it reports epoch e1's transaction in its pool (the first
    // author_extrinsicUpdate): it is building the block, and the outbox will not hear the outcome.
    let frozenAt = 0
    proxy.onResponse = chunk => {
      if (frozenAt === 0 && chunk.includes('author_extrinsicUpdate')) { chop.pause(); frozenAt = Date.now() }
    }
    await outbox.enqueue(key(e1), settle(e1, 2n * UNIT))
    await waitFor('the chain frozen mid-settlement', () => frozenAt > 0, 30_000)
    proxy.onResponse = undefined

    let cut = false
    try {
      // 1. Frozen: the connection stays open and nothing answers. Reads fail at their deadline.
      const silent = await timeToFail(async () => await ledger.head())
      assert.instance(silent.err, LedgerUnavailableError)
      assert.ok(silent.ms >= REQUEST_TIMEOUT_MS - 100 && silent.ms < REQUEST_TIMEOUT_MS + 2_000, `a frozen node failed a read after ${silent.ms} ms`)
      await outbox.enqueue(key(e2), settle(e2, 3n * UNIT)) // owed while the chain is away
      assert.is(outbox.pending(), 2)

      // 2. Gone: connections dropped, new ones refused. Reads fail at once.
      await sleep(frozenAt + 10_000 - Date.now())
      await proxy.cut()
      cut = true
      await sleep(1_000) // the client notices the dropped connection
      const refused = await timeToFail(async () => await ledger.head())
      assert.instance(refused.err, LedgerUnavailableError)
      assert.ok(refused.ms < 500, `an unreachable node failed a read after ${refused.ms} ms`)

      // The node restarts meanwhile: what the outbox owes is on disk and comes back.
      await outbox.stop()
      outbox = newOutbox()
      await outbox.start()
      assert.is(outbox.pending(), 2, 'both settlements survive an outbox restart')

      await sleep(frozenAt + OUTAGE_MS - Date.now())
      assert.is(outbox.pending(), 2, 'nothing settled while the chain was away')
      assert.is(outbox.settled(key(e1)), undefined)
      // (The outbox sends in order: e1 is retried, e2 waits behind it.)
      assert.ok((outbox.entry(key(e1))?.attempts ?? 0) >= 3, `e1 retried: ${outbox.entry(key(e1))?.attempts ?? 0} attempts`)
    } finally {
      // 3. Back: the node thaws (and works through what it had queued), connections are accepted.
      chop.resume()
      if (cut) await proxy.restore()
    }
    await Promise.all(epochs.slice(0, 2).map(async e => await outbox.waitSettled(key(e), AbortSignal.timeout(90_000))))
    assert.is(outbox.pending(), 0)
    console.log(`outage: e1 ${outbox.entry(key(e1))?.duplicate === true ? 'was applied by the attempt whose answer was lost (retry refused as DUPLICATE)' : 'was applied by a retry'}; attempts ${outbox.entry(key(e1))?.attempts ?? 0} and ${outbox.entry(key(e2))?.attempts ?? 0}`)

    for (const [e, amount] of [[e1, 2n * UNIT], [e2, 3n * UNIT]] as const) {
      const s = await ledger.settlement(e)
      assert.is(s?.outcomeRoot, rootOf(e))
      assert.equal(s?.rewards, [{ to: checker.address, amount }])
      assert.is(await countAppliedItems(api, escrow.address, names.epoch(e)), 1, `epoch ${e} applied exactly once`)
    }
    assert.is(await free(api, checker.address) - before, 5n * UNIT, 'each reward paid once')

    // Asked again, by the outbox or directly: no second application.
    await outbox.enqueue(key(e1), settle(e1, 2n * UNIT))
    assert.is(outbox.pending(), 0)
    try {
      await ledger.submit(escrow, settle(e1, 2n * UNIT))
      assert.unreachable('settled twice')
    } catch (err) {
      assert.instance(err, LedgerTxError)
      assert.is((err as LedgerTxError).code, 'DUPLICATE')
    }
  })

  test('an answer lost after the send (block built while the connection is down): the retry is DUPLICATE, paid once', async () => {
    const e3 = epochs[2] as number
    const before = await free(api, checker.address)
    await api.rpc('dev_setBlockBuildMode', 'Manual')
    try {
      await outbox.enqueue(key(e3), settle(e3, 4n * UNIT))
      await waitFor('the settlement waiting in the pool', async () => (await api.rpc.author.pendingExtrinsics()).length > 0, 30_000)
      await proxy.cut() // the ledger loses its connection: its submit cannot learn the outcome
      await waitFor('the outbox to notice', () => outbox.entry(key(e3))?.lastError, 15_000)
      await api.rpc('dev_newBlock') // …and the chain includes the transaction anyway
      assert.is(await countAppliedItems(api, escrow.address, names.epoch(e3)), 1)
    } finally {
      await api.rpc('dev_setBlockBuildMode', 'Instant')
      await proxy.restore()
    }
    await outbox.waitSettled(key(e3), AbortSignal.timeout(60_000))
    assert.is(outbox.entry(key(e3))?.duplicate, true, 'settled because the ledger found it applied')
    assert.is(await countAppliedItems(api, escrow.address, names.epoch(e3)), 1, 'applied once')
    assert.is(await free(api, checker.address) - before, 4n * UNIT, 'paid once')
    assert.is((await ledger.settlement(e3))?.outcomeRoot, rootOf(e3))
  })
}

test.run()
