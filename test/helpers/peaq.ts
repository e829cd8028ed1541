// The `chain` tier's fixtures: a real peaq runtime under chopsticks (scripts/peaq-chopsticks.mjs),
// started and stopped by the tests, dev accounts funded through chopsticks' dev RPCs, and a
// scan of the chain for how many times a settlement was applied. Test code only: nothing here
// is used by the node.
// First: loads @polkadot/api the way the ledger does (over the `ws` package, see ws-binding.ts).
import '../../chain/peaq/runtime.js'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApiPromise, Keyring, WsProvider } from '@polkadot/api'
import { cryptoWaitReady, decodeAddress } from '@polkadot/util-crypto'
import * as assert from 'uvu/assert'
import type { KeyringPair } from '@polkadot/keyring/types'
import type { QueryableStorageEntry, SubmittableExtrinsic, SubmittableExtrinsicFunction } from '@polkadot/api/types'
import type { Test } from 'uvu'

/** api.tx[section][method], which the un-augmented types only know as possibly undefined. */
export function txOf (api: ApiPromise, section: string, method: string): SubmittableExtrinsicFunction<'promise'> {
  const f = api.tx[section]?.[method]
  if (f == null) throw new Error(`this runtime has no ${section}.${method}`)
  return f
}

function queryOf (api: ApiPromise, section: string, entry: string): QueryableStorageEntry<'promise'> {
  const f = api.query[section]?.[entry]
  if (f == null) throw new Error(`this runtime has no ${section}.${entry} storage`)
  return f
}

const SCRIPT = path.resolve(fileURLToPath(new URL('../../../scripts/peaq-chopsticks.mjs', import.meta.url)))
const HOW = 'set it to a raw peaq chain spec: node/src/chain-specs/peaq-raw.json of the public repository peaqnetwork/peaq-network-node (the project does not ship one)'

/**
 * Whether this suite can run. Without a spec it must not pass silently: it registers one
 * failing test that says why, unless KAISAR_SKIP_PEAQ=1, which registers nothing (and says so).
 */
export function peaqSuiteEnabled (test: Test, suite: string): boolean {
  const spec = process.env.KAISAR_PEAQ_SPEC
  let why: string | undefined
  if (spec == null || spec === '') why = 'KAISAR_PEAQ_SPEC is not set'
  else if (!fs.existsSync(spec)) why = `KAISAR_PEAQ_SPEC=${spec} does not exist`
  if (why == null) return true
  if (process.env.KAISAR_SKIP_PEAQ === '1') {
    console.log(`${suite}: DID NOT RUN (skipped by KAISAR_SKIP_PEAQ=1): ${why}; ${HOW}`)
    return false
  }
  console.log(`${suite}: DID NOT RUN: ${why}; ${HOW}. Failing on purpose; KAISAR_SKIP_PEAQ=1 skips instead.`)
  test(`${suite}: needs a peaq chain spec`, () => { assert.unreachable(`${suite} did not run: ${why}; ${HOW}`) })
  return false
}

export interface Chopsticks {
  url: string
  port: number
  /** ms from spawn to the ws URL being printed. */
  startMs: number
  /** Freezes the chopsticks process (SIGSTOP): connections stay open, nothing answers. */
  pause: () => void
  /** Lets it run again (SIGCONT): it answers what queued up meanwhile. */
  resume: () => void
  stop: () => Promise<void>
  log: () => string
}

const running = new Set<ChildProcess>()

/** Starts chopsticks on loopback through the project's script; resolves when its RPC answers. */
export async function startChopsticks (opts: { port?: number, timeoutMs?: number } = {}): Promise<Chopsticks> {
  const args = [SCRIPT]
  if (opts.port != null) args.push('--port', String(opts.port))
  const started = Date.now()
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env })
  running.add(child)
  let log = ''
  let out = ''
  const exited = new Promise<void>(resolve => child.once('exit', () => { running.delete(child); resolve() }))
  // Ready when the URL is on stdout and the script's ready line (naming chopsticks' pid) on stderr.
  const { url, pid } = await new Promise<{ url: string, pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`chopsticks did not start in time; log:\n${log.slice(-3000)}`)) }, opts.timeoutMs ?? 120_000)
    const check = (): void => {
      const url = /^(ws:\/\/127\.0\.0\.1:\d+)$/m.exec(out)?.[1]
      const pid = Number(/chopsticks pid (\d+)/.exec(log)?.[1])
      if (url != null && Number.isInteger(pid)) { clearTimeout(timer); resolve({ url, pid }) }
    }
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); check() })
    child.stderr?.on('data', (d: Buffer) => { log += d.toString(); check() })
    void exited.then(() => { clearTimeout(timer); reject(new Error(`chopsticks exited before it was ready; log:\n${log.slice(-3000)}`)) })
  })
  return {
    url,
    port: Number(new URL(url).port),
    startMs: Date.now() - started,
    log: () => log,
    pause: () => { process.kill(pid, 'SIGSTOP') },
    resume: () => { process.kill(pid, 'SIGCONT') },
    stop: async () => {
      if (child.exitCode != null || child.signalCode != null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
      await exited
      clearTimeout(timer)
    }
  }
}

/** Kills whatever chopsticks a test file left running (the script takes chopsticks with it). */
export async function stopAllChopsticks (): Promise<void> {
  await Promise.all([...running].map(async child => {
    const gone = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
    await gone
    clearTimeout(timer)
  }))
}

export const UNIT = 10n ** 18n

/** A raw @polkadot/api session for the dev RPCs (funding, block building); closed by the caller. */
export async function devApi (url: string): Promise<ApiPromise> {
  const provider = new WsProvider(url, 1000)
  const timer = setTimeout(() => { void provider.disconnect() }, 30_000)
  try {
    return await ApiPromise.create({ provider, noInitWarn: true, throwOnConnect: true })
  } finally {
    clearTimeout(timer)
  }
}

export async function keyring (): Promise<Keyring> {
  await cryptoWaitReady()
  return new Keyring({ type: 'sr25519', ss58Format: 42 })
}

/**
 * Funds accounts: chopsticks' dev_setStorage gives //Alice a large balance, then //Alice pays
 * each account in one batch. Real transfers, so the balances are in a block's storage diff and
 * survive a chopsticks restart (values written by dev_setStorage alone live in memory only).
 */
export async function fund (api: ApiPromise, amounts: Array<{ to: string, amount: bigint }>): Promise<void> {
  const alice = (await keyring()).addFromUri('//Alice')
  const total = amounts.reduce((s, a) => s + a.amount, 0n) + 1000n * UNIT
  await api.rpc('dev_setStorage', { System: { Account: [[[alice.address], { providers: 1, data: { free: total.toString() } }]] } })
  await inBlock(txOf(api, 'utility', 'batchAll')(amounts.map(a => txOf(api, 'balances', 'transferKeepAlive')(a.to, a.amount))), alice)
}

export async function inBlock (tx: SubmittableExtrinsic<'promise'>, signer: KeyringPair, timeoutMs = 180_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`dev transaction not in a block within ${timeoutMs} ms`)) }, timeoutMs)
      tx.signAndSend(signer, { nonce: -1 }, result => {
        if (result.dispatchError != null) reject(new Error(`dev transaction failed: ${result.dispatchError.toString()}`))
        else if (result.status.isInvalid || result.status.isDropped || result.status.isUsurped) reject(new Error(`dev transaction ${result.status.type}`))
        else if (result.status.isInBlock) resolve()
      }).catch(reject)
    })
  } finally {
    clearTimeout(timer)
  }
}

export async function free (api: ApiPromise, address: string): Promise<bigint> {
  const info = await queryOf(api, 'system', 'account')(address) as unknown as { data: { free: { toBigInt: () => bigint } } }
  return info.data.free.toBigInt()
}

/**
 * How many extrinsics signed by `signer` that add peaqStorage item `itemName` succeeded, over
 * the whole chain: the "applied exactly once" check, independent of the ledger's own reading.
 */
export async function countAppliedItems (api: ApiPromise, signer: string, itemName: string): Promise<number> {
  const head = (await api.rpc.chain.getHeader()).number.toNumber()
  const who = decodeAddress(signer).join(',')
  const nameHex = Buffer.from(itemName).toString('hex')
  let count = 0
  for (let height = 1; height <= head; height++) {
    const hash = await api.rpc.chain.getBlockHash(height)
    const block = await api.rpc.chain.getBlock(hash)
    const indexes = block.block.extrinsics.flatMap((ext, index) => {
      if (!ext.isSigned || decodeAddress(ext.signer.toString()).join(',') !== who) return []
      // The item name appears in the call data (peaqStorage.addItem's first argument).
      return Buffer.from(ext.method.toU8a()).toString('hex').includes(nameHex) ? [index] : []
    })
    if (indexes.length === 0) continue
    const events = await queryOf(api, 'system', 'events').at(hash) as unknown as Array<{ phase: { isApplyExtrinsic: boolean, asApplyExtrinsic: { toNumber: () => number } }, event: { section: string, method: string } }>
    for (const i of indexes) {
      if (events.some(e => e.phase.isApplyExtrinsic && e.phase.asApplyExtrinsic.toNumber() === i && e.event.section === 'system' && e.event.method === 'ExtrinsicSuccess')) count++
    }
  }
  return count
}
