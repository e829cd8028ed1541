// The durable outbox against a real LocalChain behind a switchable link: calls survive an
// unreachable ledger and a restart of the outbox, and an attempt whose answer was lost is
// not applied twice.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { cryptoWaitReady } from '@polkadot/util-crypto'
import { MemoryLevel } from 'memory-level'
import { pino } from 'pino'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LocalChain, moduleAccount, UNIT } from '../../chain/local/chain.js'
import { LedgerUnavailableError, type Ledger, type LedgerCall, type TxReceipt } from '../../chain/ledger.js'
import { Outbox, OutboxError } from '../../chain/outbox.js'
import { FastEd25519Signer, type TxSigner } from '../../node/identity/signer.js'
import { waitFor } from '../helpers/wait.js'
import type { StateDb } from '../../node/store/state-db.js'

const log = pino({ level: 'silent' })
const memDb = (): StateDb => new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })

/** The real chain behind a link the test can cut, or make lose answers after applying. */
function link (chain: LocalChain): { ledger: Ledger, state: { down: boolean, loseAnswers: number, sent: number } } {
  const state = { down: false, loseAnswers: 0, sent: 0 }
  const ledger = new Proxy(chain, {
    get (target, prop, receiver) {
      if (prop === 'submit') {
        return async (wallet: TxSigner, call: LedgerCall): Promise<TxReceipt> => {
          state.sent++
          if (state.down) throw new LedgerUnavailableError('link down')
          const receipt = await target.submit(wallet, call)
          if (state.loseAnswers > 0) { state.loseAnswers--; throw new LedgerUnavailableError('answer lost') }
          return receipt
        }
      }
      return Reflect.get(target, prop, receiver) as unknown
    }
  }) as Ledger
  return { ledger, state }
}

async function setup (): Promise<{ chain: LocalChain, checker: TxSigner }> {
  await cryptoWaitReady()
  const hostKey = await generateKeyPair('Ed25519')
  const chain = await LocalChain.open(memDb(), { hostKey, idleBlockMs: 100 })
  const checker = FastEd25519Signer.random()
  await chain.submit(checker, { kind: 'faucet', amount: 1000n * UNIT })
  await chain.submit(checker, { kind: 'licenseChecker', peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(), stake: 50n * UNIT })
  return { chain, checker }
}

function settlement (epoch: number, to: string): LedgerCall {
  return { kind: 'settleEpoch', epoch, outcomeRoot: `0x${epoch.toString(16).padStart(64, '0')}`, outcomeCount: 3, rewards: [{ to, amount: 1n * UNIT }], penalties: [], points: [] }
}

test('calls wait out an unreachable ledger and are each applied once', async () => {
  const { chain, checker } = await setup()
  const { ledger, state } = link(chain)
  const db = memDb()
  const outbox = new Outbox({ ledger, wallet: checker, db, logger: log }, { minBackoffMs: 20, maxBackoffMs: 100 })
  await outbox.start()
  const rewardee = FastEd25519Signer.random().address
  state.down = true
  for (let e = 1; e <= 5; e++) await outbox.enqueue(`settle/${e}`, settlement(e, rewardee))
  await outbox.enqueue('settle/1', settlement(1, rewardee)) // enqueueing twice is a no-op
  await waitFor('several failed attempts', () => state.sent >= 4)
  assert.is(outbox.pending(), 5)
  assert.is(await chain.settlement(1), undefined)
  state.down = false
  await Promise.all([1, 2, 3, 4, 5].map(async e => await outbox.waitSettled(`settle/${e}`)))
  assert.is(outbox.pending(), 0)
  assert.is((await chain.account(rewardee)).free, 5n * UNIT, 'each epoch paid exactly once')
  await outbox.stop()
  await chain.close()
})

test('an attempt whose answer is lost is not applied twice (DUPLICATE = settled)', async () => {
  const { chain, checker } = await setup()
  const { ledger, state } = link(chain)
  const outbox = new Outbox({ ledger, wallet: checker, db: memDb(), logger: log }, { minBackoffMs: 20, maxBackoffMs: 50 })
  await outbox.start()
  const rewardee = FastEd25519Signer.random().address
  state.loseAnswers = 1
  await outbox.enqueue('settle/9', settlement(9, rewardee))
  await outbox.waitSettled('settle/9')
  assert.is(outbox.entry('settle/9')?.duplicate, true)
  assert.ok((outbox.entry('settle/9')?.attempts ?? 0) >= 2)
  assert.is((await chain.account(rewardee)).free, 1n * UNIT)
  await outbox.stop()
  await chain.close()
})

test('queued calls survive a restart of the outbox and are sent after it', async () => {
  const { chain, checker } = await setup()
  const { ledger, state } = link(chain)
  const db = memDb()
  const rewardee = FastEd25519Signer.random().address
  const first = new Outbox({ ledger, wallet: checker, db, logger: log }, { minBackoffMs: 20, maxBackoffMs: 50 })
  await first.start()
  state.down = true
  await first.enqueue('settle/21', settlement(21, rewardee))
  await first.enqueue('settle/22', settlement(22, rewardee))
  const waiting = first.waitSettled('settle/21')
  await first.stop()
  try { await waiting; assert.unreachable('should reject on stop') } catch (err) { assert.instance(err, OutboxError) }

  state.down = false
  const second = new Outbox({ ledger, wallet: checker, db, logger: log }, { minBackoffMs: 20, maxBackoffMs: 50 })
  await second.start()
  assert.is(second.pending(), 2)
  await second.waitSettled('settle/22')
  assert.ok(await chain.settlement(21) != null)
  assert.ok(await chain.settlement(22) != null)
  assert.is((await chain.account(rewardee)).free, 2n * UNIT)
  await second.stop()
  await chain.close()
})

test('refused calls fail for good; non-idempotent calls are not accepted', async () => {
  const { chain } = await setup()
  const stranger = FastEd25519Signer.random() // not a checker: WRONG_ROLE
  const outbox = new Outbox({ ledger: chain, wallet: stranger, db: memDb(), logger: log }, { minBackoffMs: 20 })
  await outbox.start()
  await outbox.enqueue('settle/30', settlement(30, moduleAccount('x')))
  try { await outbox.waitSettled('settle/30'); assert.unreachable('should fail') } catch (err) { assert.instance(err, OutboxError) }
  assert.is(outbox.entry('settle/30')?.status, 'failed')
  assert.is(outbox.entry('settle/30')?.error?.code, 'WRONG_ROLE')
  for (const call of [{ kind: 'faucet', amount: 1n }, { kind: 'transfer', to: moduleAccount('x'), amount: 1n }] as LedgerCall[]) {
    try { await outbox.enqueue('x', call); assert.unreachable('accepted') } catch (err) { assert.is((err as OutboxError).code, 'NOT_IDEMPOTENT') }
  }
  await outbox.stop()
  await chain.close()
})

test.run()
