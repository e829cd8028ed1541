// The connection to a peaq node and the few pallets we use, behind typed methods. @polkadot/api
// is used without chain-specific type augmentation (its bundled augmentation describes
// Polkadot's pallets, not peaq's), so every call and storage entry is looked up once at connect
// time: a runtime without them is refused with a clear error instead of failing later.
//
// Every read has a deadline and maps "could not reach the node" to LedgerUnavailableError; an
// unreachable URL fails `connect` within `connectTimeoutMs` (@polkadot/api itself would retry
// forever). After a connection loss WsProvider reconnects by itself every `reconnectDelayMs`.
import { nativeWebSocket, restoreGlobalWebSocket } from './ws-binding.js' // first: before @polkadot/api
import { ApiPromise, WsProvider } from '@polkadot/api'
import { WebSocket as PolkadotWebSocket } from '@polkadot/x-ws'
import { u8aToHex } from '@polkadot/util'
import { decodeAddress } from '@polkadot/util-crypto'
import { LedgerUnavailableError, type Hex } from '../ledger.js'
import { ConfigError, KaisarError, errorMessage } from '../../node/errors.js'
import { isConnectivityError, type ModuleErrorName } from './errors.js'
import { attributeKey, attributeOwnerKeys, decodeAttribute, itemKey, type AccountId, type Attribute } from './codec.js'
import type { CustodyPath } from './accounts.js'
import type { SubmittableExtrinsic, SubmittableExtrinsicFunction, QueryableStorageEntry } from '@polkadot/api/types'
import type { Codec } from '@polkadot/types/types'
import type { DispatchError, EventRecord, SignedBlock } from '@polkadot/types/interfaces'

export type Extrinsic = SubmittableExtrinsic<'promise'>

restoreGlobalWebSocket()
/** True when @polkadot/x-ws was loaded before ./ws-binding.js could steer it to `ws` (see there). */
export const polkadotUsesNativeWebSocket = nativeWebSocket != null && PolkadotWebSocket === nativeWebSocket

/** The chain is reachable but is not a runtime this adapter can use. Not retryable. */
export class PeaqRuntimeError extends KaisarError<{ code: 'PEAQ_RUNTIME_UNSUPPORTED', missing: string[] }> {
  constructor (url: string, missing: string[]) {
    super({ code: 'PEAQ_RUNTIME_UNSUPPORTED', missing }, `${url} is not a peaq runtime this node can use: missing ${missing.join(', ')}`)
  }
}

export interface RuntimeOptions {
  connectTimeoutMs: number
  requestTimeoutMs: number
  reconnectDelayMs: number
}

export interface Header { height: number, hash: Hex }

/** One extrinsic of a block, as far as we read them. */
export interface BlockExtrinsic {
  index: number
  signer?: AccountId
  section: string
  method: string
  /** utility.batchAll / batch: the inner calls. */
  calls: Array<{ section: string, method: string, args: Codec[] }>
  args: Codec[]
}

async function withTimeout<T> (promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(onTimeout()) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

/** The method of a section, or undefined when the runtime lacks it. */
function txFn (api: ApiPromise, section: string, method: string): SubmittableExtrinsicFunction<'promise'> | undefined {
  return api.tx[section]?.[method]
}
function queryFn (api: ApiPromise, section: string, entry: string): QueryableStorageEntry<'promise'> | undefined {
  return api.query[section]?.[entry]
}

interface Pallets {
  transferKeepAlive: SubmittableExtrinsicFunction<'promise'>
  transferAllowDeath: SubmittableExtrinsicFunction<'promise'>
  transferAll: SubmittableExtrinsicFunction<'promise'>
  addItem: SubmittableExtrinsicFunction<'promise'>
  updateItem: SubmittableExtrinsicFunction<'promise'>
  addAttribute: SubmittableExtrinsicFunction<'promise'>
  batchAll: SubmittableExtrinsicFunction<'promise'>
  asDerivative: SubmittableExtrinsicFunction<'promise'>
  remark: SubmittableExtrinsicFunction<'promise'>
  itemStore: QueryableStorageEntry<'promise'>
  attributeStore: QueryableStorageEntry<'promise'>
  ownerStore: QueryableStorageEntry<'promise'>
  account: QueryableStorageEntry<'promise'>
}

function resolvePallets (url: string, api: ApiPromise): Pallets {
  const missing: string[] = []
  const tx = (section: string, ...methods: string[]): SubmittableExtrinsicFunction<'promise'> => {
    for (const m of methods) { const f = txFn(api, section, m); if (f != null) return f }
    missing.push(`${section}.${methods.join('|')}`)
    return (() => { throw new Error('unreachable') }) as unknown as SubmittableExtrinsicFunction<'promise'>
  }
  const query = (section: string, entry: string): QueryableStorageEntry<'promise'> => {
    const f = queryFn(api, section, entry)
    if (f != null) return f
    missing.push(`query.${section}.${entry}`)
    return (() => { throw new Error('unreachable') }) as unknown as QueryableStorageEntry<'promise'>
  }
  const pallets: Pallets = {
    transferKeepAlive: tx('balances', 'transferKeepAlive'),
    // `transfer` was renamed `transferAllowDeath` in later Substrate releases.
    transferAllowDeath: tx('balances', 'transferAllowDeath', 'transfer'),
    transferAll: tx('balances', 'transferAll'),
    addItem: tx('peaqStorage', 'addItem'),
    updateItem: tx('peaqStorage', 'updateItem'),
    addAttribute: tx('peaqDid', 'addAttribute'),
    batchAll: tx('utility', 'batchAll'),
    asDerivative: tx('utility', 'asDerivative'),
    remark: tx('system', 'remark'),
    itemStore: query('peaqStorage', 'itemStore'),
    attributeStore: query('peaqDid', 'attributeStore'),
    ownerStore: query('peaqDid', 'ownerStore'),
    account: query('system', 'account')
  }
  if (missing.length > 0) throw new PeaqRuntimeError(url, missing)
  return pallets
}

/** How long one scan of peaqDid's attributes answers directory reads (about one peaq block). */
const ATTRIBUTE_SCAN_TTL_MS = 6_000

export class PeaqRuntime {
  readonly url: string
  readonly api: ApiPromise
  private readonly provider: WsProvider
  private readonly pallets: Pallets
  private readonly opts: RuntimeOptions
  private readonly scans = new Map<string, { at: number, result: Promise<Attribute[]> }>()
  readonly decimals: number
  readonly symbol: string
  /** balances.existentialDeposit: the least an account may hold (keep-alive transfers keep it). */
  readonly existentialDeposit: bigint
  /** What peaqStorage reserves per item on runtimes that charge a deposit (0 where it does not). */
  readonly itemDeposit: bigint

  private constructor (url: string, provider: WsProvider, api: ApiPromise, opts: RuntimeOptions) {
    this.url = url
    this.provider = provider
    this.api = api
    this.opts = opts
    this.pallets = resolvePallets(url, api)
    this.decimals = api.registry.chainDecimals[0] ?? 12
    this.symbol = api.registry.chainTokens[0] ?? 'UNIT'
    this.existentialDeposit = constBig(api, 'balances', 'existentialDeposit') ?? 0n
    // peaqStorage's deposit (newer runtimes): base + per byte × (max item + max item type).
    const base = constBig(api, 'peaqStorage', 'storageDepositBase')
    const perByte = constBig(api, 'peaqStorage', 'storageDepositPerByte')
    this.itemDeposit = base != null && perByte != null ? base + perByte * 320n : 0n
  }

  static async connect (url: string, opts: RuntimeOptions): Promise<PeaqRuntime> {
    if (!/^wss?:\/\/[^\s/]+/.test(url)) throw new ConfigError('chain', `must be a ws:// or wss:// URL of a peaq node (got "${url}")`)
    const provider = new WsProvider(url, opts.reconnectDelayMs, {}, opts.requestTimeoutMs)
    const deadline = Date.now() + opts.connectTimeoutMs
    try {
      await withTimeout(provider.isReady, opts.connectTimeoutMs, () => new LedgerUnavailableError(`peaq node ${url} is unreachable (no connection within ${opts.connectTimeoutMs} ms)`))
      const api = await withTimeout(ApiPromise.create({ provider, noInitWarn: true }), Math.max(1, deadline - Date.now()),
        () => new LedgerUnavailableError(`peaq node ${url} accepted the connection but did not answer within ${opts.connectTimeoutMs} ms`))
      return new PeaqRuntime(url, provider, api, opts)
    } catch (err) {
      await provider.disconnect().catch(() => {})
      if (err instanceof KaisarError) throw err
      throw new LedgerUnavailableError(`peaq node ${url}: ${errorMessage(err)}`)
    }
  }

  get isConnected (): boolean { return this.provider.isConnected }

  /** Calls `listener` on every connection loss; returns the unsubscribe function. */
  onDisconnect (listener: () => void): () => void {
    return this.provider.on('disconnected', listener)
  }

  onConnect (listener: () => void): () => void {
    return this.provider.on('connected', listener)
  }

  async disconnect (): Promise<void> {
    await this.api.disconnect().catch(() => {})
  }

  /** Runs one RPC exchange with a deadline; connectivity failures become LedgerUnavailableError. */
  async rpc<T> (label: string, fn: () => Promise<T>): Promise<T> {
    if (!this.provider.isConnected) throw new LedgerUnavailableError(`peaq node ${this.url} is not connected (reconnecting every ${this.opts.reconnectDelayMs} ms): ${label}`)
    try {
      return await withTimeout(fn(), this.opts.requestTimeoutMs, () => new LedgerUnavailableError(`peaq node ${this.url} did not answer ${label} within ${this.opts.requestTimeoutMs} ms`))
    } catch (err) {
      if (err instanceof LedgerUnavailableError) throw err
      if (isConnectivityError(err)) throw new LedgerUnavailableError(`peaq node ${this.url}: ${label}: ${errorMessage(err).split('\n')[0] ?? ''}`)
      throw err
    }
  }

  // ---- calls -----------------------------------------------------------------------------

  transferKeepAlive (dest: AccountId, value: bigint): Extrinsic { return this.pallets.transferKeepAlive({ Id: dest }, value) }
  transferAllowDeath (dest: AccountId, value: bigint): Extrinsic { return this.pallets.transferAllowDeath({ Id: dest }, value) }
  transferAll (dest: AccountId, keepAlive: boolean): Extrinsic { return this.pallets.transferAll({ Id: dest }, keepAlive) }
  // Bytes arguments go as hex: polkadot-js reads a Uint8Array as already SCALE-encoded (length first).
  addItem (name: string, item: Uint8Array): Extrinsic { return this.pallets.addItem(name, u8aToHex(item)) }
  updateItem (name: string, item: Uint8Array): Extrinsic { return this.pallets.updateItem(name, u8aToHex(item)) }
  addAttribute (did: AccountId, name: string, value: Uint8Array): Extrinsic { return this.pallets.addAttribute(did, name, u8aToHex(value), null) }
  batchAll (calls: Extrinsic[]): Extrinsic { return this.pallets.batchAll(calls) }
  remark (data: Uint8Array): Extrinsic { return this.pallets.remark(u8aToHex(data)) }
  /** `call` dispatched as the custody account at `path` below the signer. */
  asCustody (path: CustodyPath, call: Extrinsic): Extrinsic {
    return [...path].reverse().reduce((inner, index) => this.pallets.asDerivative(index, inner), call)
  }

  // ---- reads -----------------------------------------------------------------------------

  async item (owner: AccountId, name: string): Promise<Uint8Array | undefined> {
    const codec = await this.rpc(`peaqStorage item ${name}`, async () => await this.pallets.itemStore(itemKey(owner, name)))
    // A ValueQuery: a missing item reads as empty bytes (we never write empty items).
    const bytes = codec.toU8a(true)
    return bytes.byteLength === 0 ? undefined : bytes
  }

  async attribute (did: AccountId, name: string): Promise<Attribute | undefined> {
    const codec = await this.rpc(`peaqDid attribute ${name}`, async () => await this.pallets.attributeStore(attributeKey(did, name)))
    const attr = decodeAttribute(codec.toU8a())
    return attr.name.byteLength === 0 ? undefined : attr
  }

  /**
   * Every DID attribute whose name starts with `prefix`, on any DID. peaqDid keys attributes by
   * a hash of (DID, name), so a prefix is not a storage prefix: this pages through the whole
   * map. Used only for the directory reads (who is registered, a provider's leases), which
   * checkers make once per epoch and cache.
   */
  async attributesNamed (prefix: string): Promise<Attribute[]> {
    // One scan serves every caller for a block time: a checker asks for each provider's leases
    // in turn, and each would otherwise page through the whole map again.
    const cached = this.scans.get(prefix)
    if (cached != null && Date.now() - cached.at < ATTRIBUTE_SCAN_TTL_MS) return await cached.result
    const result = this.scanAttributes(prefix)
    this.scans.set(prefix, { at: Date.now(), result })
    result.catch(() => { if (this.scans.get(prefix)?.result === result) this.scans.delete(prefix) })
    return await result
  }

  private async scanAttributes (prefix: string): Promise<Attribute[]> {
    const want = new TextEncoder().encode(prefix)
    const entries = await this.rpc(`peaqDid attributes ${prefix}*`, async () => await this.pallets.attributeStore.entries())
    const out: Attribute[] = []
    for (const [, codec] of entries) {
      let attr: Attribute
      try { attr = decodeAttribute(codec.toU8a()) } catch { continue }
      if (attr.name.byteLength >= want.byteLength && want.every((b, i) => attr.name[i] === b)) out.push(attr)
    }
    return out
  }

  /** Whether `owner` created attribute `name` on `did` (see attributeOwnerKeys for the two key forms). */
  async attributeOwnedBy (owner: AccountId, did: AccountId, name: string): Promise<boolean> {
    const [perName, perDid] = attributeOwnerKeys(owner, did, name)
    const [a, b] = await this.rpc(`peaqDid owner of ${name}`, async () => await Promise.all([this.pallets.ownerStore([owner, perName]), this.pallets.ownerStore([owner, perDid])]))
    return !a.isEmpty || !b.isEmpty
  }

  async account (id: AccountId): Promise<{ nonce: number, free: bigint }> {
    const codec = await this.rpc('system.account', async () => await this.pallets.account(id))
    const info = codec as unknown as { nonce?: { toNumber: () => number }, data?: { free?: { toBigInt: () => bigint } } }
    if (info.nonce == null || info.data?.free == null) throw new PeaqRuntimeError(this.url, ['system.account { nonce, data.free }'])
    return { nonce: info.nonce.toNumber(), free: info.data.free.toBigInt() }
  }

  /** The next nonce of `address`, counting its transactions still in the pool. */
  async nextIndex (address: string): Promise<number> {
    const n = await this.rpc('system_accountNextIndex', async () => await this.api.rpc.system.accountNextIndex(address))
    return n.toNumber()
  }

  async bestHeader (): Promise<Header> {
    const h = await this.rpc('chain_getHeader', async () => await this.api.rpc.chain.getHeader())
    return { height: h.number.toNumber(), hash: h.hash.toHex() }
  }

  async finalizedHeader (): Promise<Header> {
    const hash = await this.rpc('chain_getFinalizedHead', async () => await this.api.rpc.chain.getFinalizedHead())
    const h = await this.rpc('chain_getHeader', async () => await this.api.rpc.chain.getHeader(hash))
    return { height: h.number.toNumber(), hash: hash.toHex() }
  }

  async blockHash (height: number): Promise<Hex | undefined> {
    const hash = await this.rpc(`chain_getBlockHash(${height})`, async () => await this.api.rpc.chain.getBlockHash(height))
    return hash.isEmpty ? undefined : hash.toHex()
  }

  /** A block's extrinsics (bodies are kept by pruned nodes too) and its timestamp inherent. */
  async block (hash: Hex): Promise<{ height: number, timestamp: number, extrinsics: BlockExtrinsic[] }> {
    const signed: SignedBlock = await this.rpc(`chain_getBlock(${hash})`, async () => await this.api.rpc.chain.getBlock(hash))
    let timestamp = 0
    const extrinsics = signed.block.extrinsics.map((ext, index): BlockExtrinsic => {
      const { section, method, args } = ext.method
      if (section === 'timestamp' && method === 'set') timestamp = Number((args[0] as Codec).toString())
      const inner = section === 'utility' && (method === 'batchAll' || method === 'batch' || method === 'forceBatch')
        ? (args[0] as unknown as Array<{ section: string, method: string, args: Codec[] }>).map(c => ({ section: c.section, method: c.method, args: [...c.args] }))
        : []
      return { index, signer: ext.isSigned ? decodeAddress(ext.signer.toString()) : undefined, section, method, calls: inner, args: [...args] }
    })
    return { height: signed.block.header.number.toNumber(), timestamp, extrinsics }
  }

  /** Events of a block, when the node still has that block's state (pruned nodes keep ~256 blocks). */
  async events (hash: Hex): Promise<EventRecord[] | undefined> {
    try {
      const codec = await this.rpc('system.events', async () => await (this.api.query.system?.events as QueryableStorageEntry<'promise'>).at(hash))
      return [...(codec as unknown as Iterable<EventRecord>)]
    } catch (err) {
      if (err instanceof LedgerUnavailableError) throw err
      return undefined
    }
  }

  /** Names a DispatchError: a pallet error ("peaqStorage.ItemTypeAlreadyExists") or another kind. */
  describeError (err: DispatchError): ModuleErrorName | { other: string } {
    if (err.isModule) {
      try {
        const meta = this.api.registry.findMetaError(err.asModule)
        return { section: meta.section, name: meta.name, docs: meta.docs.join(' ').trim() }
      } catch { /* unknown to this metadata */ }
    }
    return { other: err.type === 'Token' || err.type === 'Arithmetic' ? `${err.type}.${String(err.value.toString())}` : err.type }
  }

  bytesToHex (bytes: Uint8Array): Hex { return u8aToHex(bytes) }
}

function constBig (api: ApiPromise, section: string, name: string): bigint | undefined {
  const c = api.consts[section]?.[name] as (Codec & { toBigInt?: () => bigint }) | undefined
  return c?.toBigInt?.()
}
