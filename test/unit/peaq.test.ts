// The peaq adapter's parts that need no chain: record layouts and names, custody account
// derivation (checked against a real peaq runtime once, vectors below), error mapping, nonce
// bookkeeping, and how it fails when the node is unreachable or silent (never a hang).
import { spawn } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { cryptoWaitReady, decodeAddress, encodeAddress } from '@polkadot/util-crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LedgerTxError, LedgerUnavailableError } from '../../chain/ledger.js'
import { createPeaqLedger } from '../../chain/peaq/index.js'
import { Custody, custodyAccount, custodyPath, derivativeAccount } from '../../chain/peaq/accounts.js'
import {
  MAX_NAME, Names, RecordDecodeError, attributeKey, attributeOwnerKeys, decodeClose, decodeLists, decodePeer, decodeRole, decodeSettlement, decodeTerms,
  encodeClose, encodeLists, encodePeer, encodeRole, encodeSettlement, encodeTerms, itemKey
} from '../../chain/peaq/codec.js'
import { dispatchRejection, isConnectivityError, poolVerdict } from '../../chain/peaq/errors.js'
import { KeyedMutex, NonceTracker } from '../../chain/peaq/nonces.js'
import { polkadotUsesNativeWebSocket } from '../../chain/peaq/runtime.js'
import { nativeWebSocket } from '../../chain/peaq/ws-binding.js'
import { ConfigError } from '../../node/errors.js'
import { freePort } from '../../node/runtime/free-port.js'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
const SCRIPT = path.resolve(fileURLToPath(new URL('../../../scripts/peaq-chopsticks.mjs', import.meta.url)))

test.before(async () => { await cryptoWaitReady() })

test('derivative accounts match pallet_utility (vectors observed on the peaq genesis runtime)', () => {
  // as_derivative(7, as_derivative(9, remark_with_event)) signed by //Alice emitted
  // system.Remarked from 5FdoqbSd…, and //Alice's index-7 derivative is 5EKbMJQd… .
  const d7 = derivativeAccount(decodeAddress(ALICE), 7)
  assert.is(encodeAddress(d7, 42), '5EKbMJQdv4PC9Ev2U65UKKhdiPLN6kbacpVarF1QD3ypRsPf')
  assert.is(encodeAddress(derivativeAccount(d7, 9), 42), '5FdoqbSdChUoj4iv2PZjfwt3YLGsqP2rc8Ttf9rmRiGiPycK')
  assert.throws(() => derivativeAccount(d7, 65536), /u16/)
})

test('custody accounts: one per lease and per stake, deterministic, distinct, never the escrow itself', () => {
  const c = new Custody(ALICE, 'kaisar')
  assert.equal(c.lease('lease-1'), c.lease('lease-1'))
  const accounts = [c.lease('lease-1'), c.lease('lease-2'), c.stake('provider', decodeAddress(BOB)), c.stake('checker', decodeAddress(BOB)), new Custody(ALICE, 'other').lease('lease-1'), new Custody(BOB, 'kaisar').lease('lease-1')]
  const hex = accounts.map(a => Buffer.from(a).toString('hex'))
  assert.is(new Set(hex).size, hex.length, 'all distinct')
  assert.not.ok(hex.includes(Buffer.from(decodeAddress(ALICE)).toString('hex')))
  const p = custodyPath('kaisar/lease', 'lease-1')
  assert.is(p.length, 4)
  for (const i of p) assert.ok(Number.isInteger(i) && i >= 0 && i <= 0xffff)
  assert.equal(custodyAccount(decodeAddress(ALICE), p), c.lease('lease-1'))
})

test('record names fit peaq\'s 64-byte limit for any id, and differ per id', () => {
  const n = new Names('kaisar')
  const longLease = 'x'.repeat(64)
  const peer = '12D3KooWKRc3iTbgzrXiZQvN3edopUJNKq6pUzr8MjbGhCM67HCX'
  for (const name of [n.role('provider'), n.role('checker'), n.peer(peer), n.lease(), n.start(longLease), n.close(longLease), n.epoch(Number.MAX_SAFE_INTEGER), n.points(decodeAddress(ALICE)), n.transferRef('r'.repeat(128))]) {
    assert.ok(Buffer.byteLength(name) <= MAX_NAME, `${name} is ${Buffer.byteLength(name)} bytes`)
  }
  assert.is.not(n.close('a'), n.close('b'))
  assert.is.not(new Names('a').epoch(1), new Names('b').epoch(1))
  assert.throws(() => new Names('Has Spaces'), /namespace/)
})

test('records round-trip and fit peaqStorage\'s 128-byte items; foreign bytes are refused', () => {
  const user = decodeAddress(ALICE)
  const provider = decodeAddress(BOB)
  const role = { peerId: '12D3KooWKRc3iTbgzrXiZQvN3edopUJNKq6pUzr8MjbGhCM67HCX', registeredAt: 123456 }
  assert.equal(decodeRole(encodeRole(role)), role)
  assert.equal(decodePeer(encodePeer({ role: 'checker', account: user })), { role: 'checker', account: user })
  const terms = { leaseId: 'lease-1', user, provider, amount: (1n << 100n) + 7n, pricePerHour: 3n, maxSeconds: 86400 }
  assert.equal(decodeTerms(encodeTerms(terms)), terms)
  const close = { reason: 'expired' as const, paid: 10n ** 20n, refunded: 5n, closedAt: 1_795_300_000_000 }
  assert.equal(decodeClose(encodeClose(close)), close)
  const settlement = { outcomeRoot: `0x${'ab'.repeat(32)}` as const, outcomeCount: 1000, refHeight: 99, eraPeriod: 64, listsHash: new Uint8Array(32).fill(7) }
  const bytes = encodeSettlement(settlement)
  assert.ok(bytes.byteLength <= 128, `settlement item is ${bytes.byteLength} bytes`)
  assert.equal(decodeSettlement(bytes), settlement)
  assert.ok(encodeRole(role).byteLength <= 128)
  const lists = { epoch: 5, rewards: [{ to: user, amount: 1n }], penalties: [{ provider, amount: 2n }], points: [{ to: user, amount: 3n }, { to: provider, amount: 4n }] }
  assert.equal(decodeLists(encodeLists(lists)), lists)
  assert.throws(() => decodeRole(new Uint8Array([9, 1, 2])), (e: unknown) => e instanceof RecordDecodeError)
  assert.throws(() => decodeSettlement(bytes.subarray(0, 40)), (e: unknown) => e instanceof RecordDecodeError)
  assert.throws(() => decodeLists(new Uint8Array(20)), (e: unknown) => e instanceof RecordDecodeError)
  assert.throws(() => decodeTerms(new Uint8Array([...encodeTerms(terms), 0])), /trailing/)
})

test('storage keys: items are per writer, attributes per DID only, owner keys in both runtime forms', () => {
  const a = decodeAddress(ALICE)
  const b = decodeAddress(BOB)
  assert.is.not(Buffer.from(itemKey(a, 'x')).toString('hex'), Buffer.from(itemKey(b, 'x')).toString('hex'))
  assert.is(itemKey(a, 'x').byteLength, 32)
  assert.is(Buffer.from(attributeKey(a, 'x')).toString('hex'), Buffer.from(attributeKey(a, 'x')).toString('hex'))
  // Observed on the genesis runtime: //Bob adding "kaisar/test" to //Alice's DID stored the owner under blake2(Bob ‖ Alice).
  const [perName, perDid] = attributeOwnerKeys(b, a, 'kaisar/test')
  assert.is(Buffer.from(perDid).toString('hex'), 'e7c12aabb9eb9fb8975005d37aee8de4fecc5b19a4310a7cf25aca25f71517ad')
  assert.is.not(Buffer.from(perName).toString('hex'), Buffer.from(perDid).toString('hex'))
})

test('pool and dispatch errors map to the Ledger\'s codes; nonce trouble is retried, not reported', () => {
  assert.equal(poolVerdict(new Error('1010: Invalid Transaction: Transaction is outdated'), 'transfer'), { retry: true, reason: '1010: Invalid Transaction: Transaction is outdated' })
  assert.ok(poolVerdict(new Error('1014: Priority is too low: (1 vs 1)'), 'transfer').retry)
  const fees = poolVerdict(new Error('1010: Invalid Transaction: Inability to pay some fees , e.g. account balance too low'), 'deposit')
  assert.ok(!fees.retry && fees.error.code === 'INSUFFICIENT_BALANCE' && fees.error.type.call === 'deposit')
  const sig = poolVerdict(new Error('1010: Invalid Transaction: Transaction has a bad signature'), 'transfer')
  assert.ok(!sig.retry && sig.error.code === 'BAD_SIGNATURE')
  const dup = dispatchRejection('settleEpoch', { section: 'peaqStorage', name: 'ItemTypeAlreadyExists', docs: '' }, ['peaqStorage.ItemTypeAlreadyExists'])
  assert.instance(dup, LedgerTxError)
  assert.is(dup.code, 'DUPLICATE')
  assert.is(dispatchRejection('transfer', { section: 'peaqStorage', name: 'ItemTypeAlreadyExists', docs: '' }, []).code, 'BAD_CALL')
  assert.is(dispatchRejection('transfer', { section: 'balances', name: 'InsufficientBalance', docs: '' }, []).code, 'INSUFFICIENT_BALANCE')
  assert.is(dispatchRejection('transfer', { other: 'BadOrigin' }, []).code, 'NOT_ALLOWED')
  assert.ok(isConnectivityError(new Error('disconnected from ws://127.0.0.1:1: 1006:: Abnormal Closure')))
  assert.ok(isConnectivityError(new Error('WebSocket is not connected')))
  assert.not.ok(isConnectivityError(new Error('createType(Call):: failed decoding')))
})

test('nonces: read once, counted locally, forgotten on doubt; one account\'s sends run in order', async () => {
  const nonces = new NonceTracker()
  let fetched = 0
  const fetch = async (): Promise<number> => { fetched++; return 41 }
  assert.is(await nonces.take('a', fetch), 41)
  nonces.used('a', 41)
  assert.is(await nonces.take('a', fetch), 42)
  assert.is(fetched, 1)
  nonces.forget('a')
  assert.is(await nonces.take('a', fetch), 41)
  assert.is(fetched, 2)

  const mutex = new KeyedMutex()
  const order: string[] = []
  const slow = async (tag: string, ms: number): Promise<void> => { order.push(`${tag}+`); await new Promise(resolve => setTimeout(resolve, ms)); order.push(`${tag}-`) }
  await Promise.all([mutex.run('x', async () => { await slow('x1', 30) }), mutex.run('x', async () => { await slow('x2', 1) }), mutex.run('y', async () => { await slow('y1', 1) })])
  assert.ok(order.indexOf('x1-') < order.indexOf('x2+'), order.join(' '))
  assert.ok(order.indexOf('y1+') < order.indexOf('x1-'), 'other keys do not wait')
  await mutex.run('x', async () => { throw new Error('boom') }).catch(() => {})
  assert.is(await mutex.run('x', async () => 7), 7, 'a failed task does not block the next')
})

test('@polkadot/api talks WebSocket through `ws`, and Node\'s own WebSocket global is left in place', () => {
  // Node 22's built-in WebSocket never closes a connection abandoned while CONNECTING, which
  // would keep this very test process alive after the next two tests (chain/peaq/ws-binding.ts).
  assert.is(polkadotUsesNativeWebSocket, false)
  assert.is((globalThis as { WebSocket?: unknown }).WebSocket, nativeWebSocket, 'the global is restored (absent on Node 20)')
})

test('an unreachable node fails createPeaqLedger fast with LedgerUnavailableError', async () => {
  const port = await freePort()
  const started = Date.now()
  try {
    await createPeaqLedger(`ws://127.0.0.1:${port}`, { escrow: ALICE, connectTimeoutMs: 1500, reconnectDelayMs: 200 })
    assert.unreachable('connected to nothing')
  } catch (err) {
    assert.instance(err, LedgerUnavailableError)
    assert.match((err as Error).message, /unreachable/)
  }
  const took = Date.now() - started
  assert.ok(took >= 1400 && took < 3000, `took ${took} ms`)
})

test('a node that accepts the connection but never answers fails within the deadline, not a hang', async () => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer(s => { sockets.add(s) }) // accepts TCP, never speaks WebSocket
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const started = Date.now()
  try {
    await createPeaqLedger(`ws://127.0.0.1:${port}`, { escrow: ALICE, connectTimeoutMs: 1500 })
    assert.unreachable('a silent node was accepted')
  } catch (err) {
    assert.instance(err, LedgerUnavailableError)
    assert.ok(Date.now() - started < 3000)
  } finally {
    for (const s of sockets) s.destroy()
    await new Promise(resolve => server.close(resolve))
  }
})

test('bad configuration is a ConfigError, not a retryable one', async () => {
  for (const [url, escrow, key] of [['http://127.0.0.1:1', ALICE, 'chain'], ['ws://127.0.0.1:1', 'not-an-address', 'escrow']] as const) {
    try {
      await createPeaqLedger(url, { escrow, connectTimeoutMs: 500 })
      assert.unreachable(`${url} ${escrow} accepted`)
    } catch (err) {
      assert.instance(err, ConfigError)
      assert.is((err as ConfigError).type.key, key)
    }
  }
})

test('the chopsticks script refuses to start without a chain spec, and says where to get one', async () => {
  const env = { ...process.env }
  delete env.KAISAR_PEAQ_SPEC
  const result = await new Promise<{ code: number | null, stderr: string }>(resolve => {
    const child = spawn(process.execPath, [SCRIPT], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('exit', code => { resolve({ code, stderr }) })
  })
  assert.is(result.code, 2)
  assert.match(result.stderr, /KAISAR_PEAQ_SPEC/)
  assert.match(result.stderr, /peaq-network-node/)
})

test.run()
