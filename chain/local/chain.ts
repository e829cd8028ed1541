// The local ledger's host: a mempool ordered by nonce, blocks produced every few
// milliseconds while transactions wait (and every `idleBlockMs` otherwise), each block
// hash-chained to its parent, signed by the host's libp2p key and written in one LevelDB
// batch with the state it changed. A restarted host resumes at the same height.
// Like `substrate --dev` or `anvil`: one machine, an honest host, every rule enforced.
import { blake2AsHex, blake2AsU8a, encodeAddress } from '@polkadot/util-crypto'
import { u8aToHex } from '@polkadot/util'
import { LedgerTxError, LedgerUnavailableError, type AccountInfo, type Address, type Amount, type ChainHead, type CheckerLicence, type EpochSettlement, type Hex, type LeaseEscrow, type Ledger, type LedgerCall, type LedgerEvent, type LedgerRejection, type PeerRegistration, type ProviderRegistration, type RegistryPage, type TxReceipt } from '../ledger.js'
import { canonicalJson, signTx, txHash, verifyTx, type SignedTx } from './codec.js'
import { DEFAULT_DISSENT, LedgerState, type LedgerParams } from './state.js'
import { SS58_PREFIX } from '../../node/identity/signer.js'
import type { StateDb } from '../../node/store/state-db.js'
import type { PrivateKey } from '@libp2p/interface'
import type { TxSigner } from '../../node/identity/signer.js'

export const LOCAL_SYMBOL = 'KAI'
export const LOCAL_DECIMALS = 12
export const UNIT = 10n ** BigInt(LOCAL_DECIMALS)

/** A module account: an address nobody holds the key for. */
export function moduleAccount (name: string): Address {
  return encodeAddress(blake2AsU8a(`kaisar/module/${name}`, 256), SS58_PREFIX)
}

export interface Genesis {
  chainId: string
  timestamp: number
  params: { minProviderStake: string, minCheckerStake: string, faucetMax: string, maxDissentStrikes?: number, dissentWindowEpochs?: number }
  endowments: Array<{ address: Address, amount: string }>
}

export function devGenesis (now = Date.now()): Genesis {
  return {
    chainId: `kaisar-local-${now.toString(36)}`,
    timestamp: now,
    params: { minProviderStake: String(100n * UNIT), minCheckerStake: String(50n * UNIT), faucetMax: String(10_000n * UNIT) },
    endowments: [{ address: moduleAccount('treasury'), amount: String(1_000_000_000n * UNIT) }]
  }
}

export interface Block {
  height: number
  hash: Hex
  parent: Hex
  timestamp: number
  txRoot: Hex
  txs: Hex[]
  /** Host's Ed25519 signature over the block hash (hex). */
  signature: Hex
}

interface TxRecord { height: number, index: number, tx: SignedTx, error?: { code: LedgerRejection, message: string } }

interface Pending {
  tx: SignedTx
  hash: Hex
  seq: number
  resolve: (r: TxReceipt) => void
  reject: (e: Error) => void
}

export interface LocalChainOptions {
  /** Signs blocks; its PeerId is the host clients trust for block announcements. */
  hostKey: PrivateKey
  /** Used only when the DB holds no chain yet. */
  genesis?: Genesis
  /** Delay that coalesces transactions into one block. */
  batchMs?: number
  /** An empty block at least this often, so time (and seeds) move on. */
  idleBlockMs?: number
  maxBlockTxs?: number
  /** How far ahead of the account's nonce a transaction may wait in the mempool. */
  maxNonceGap?: number
  /** Records per registry page (registryChanges): ≈ 1,000 keeps a page well under a reply's 1 MiB. */
  registryPageSize?: number
  now?: () => number
}

const META_HEAD = 'ledger/meta/head'
const META_GENESIS = 'ledger/meta/genesis'
/** Set once the providers' lease index (state.ts, lease-of) covers every escrow in the store. */
const META_LEASE_INDEX = 'ledger/meta/lease-index'
const blockKey = (h: number): string => `ledger/block/${String(h).padStart(12, '0')}`
const txKey = (hash: string): string => `ledger/tx/${hash}`
const timeKey = (t: number, h: number): string => `ledger/time/${String(t).padStart(15, '0')}/${String(h).padStart(12, '0')}`

function json (v: unknown): Uint8Array { return Buffer.from(canonicalJson(v)) }
function parse<T> (bytes: Uint8Array): T { return JSON.parse(Buffer.from(bytes).toString('utf8')) as T }

export class LocalChain implements Ledger {
  readonly kind = 'local' as const
  readonly symbol = LOCAL_SYMBOL
  readonly decimals = LOCAL_DECIMALS
  readonly genesisHash: Hex
  readonly genesis: Genesis
  readonly state: LedgerState
  private readonly db: StateDb
  private readonly opts: Required<Omit<LocalChainOptions, 'genesis'>>
  private headBlock: Block
  private readonly pending = new Map<Address, Map<number, Pending>>()
  private pendingCount = 0
  private seq = 0
  private batchTimer?: NodeJS.Timeout
  private idleTimer?: NodeJS.Timeout
  private producing?: Promise<void>
  private readonly listeners = new Set<(e: LedgerEvent) => void>()
  private readonly admitting = new Map<Address, Promise<{ included: Promise<TxReceipt> }>>()
  private closed = false

  private constructor (db: StateDb, genesis: Genesis, genesisHash: Hex, head: Block, opts: LocalChainOptions) {
    this.db = db
    this.genesis = genesis
    this.genesisHash = genesisHash
    this.headBlock = head
    this.opts = { batchMs: 5, idleBlockMs: 1000, maxBlockTxs: 2000, maxNonceGap: 4096, registryPageSize: 1000, now: Date.now, ...opts }
    this.state = new LedgerState(db, {
      treasury: moduleAccount('treasury'),
      minProviderStake: BigInt(genesis.params.minProviderStake),
      minCheckerStake: BigInt(genesis.params.minCheckerStake),
      faucetMax: BigInt(genesis.params.faucetMax),
      maxDissentStrikes: genesis.params.maxDissentStrikes ?? DEFAULT_DISSENT.maxDissentStrikes,
      dissentWindowEpochs: genesis.params.dissentWindowEpochs ?? DEFAULT_DISSENT.dissentWindowEpochs
    } satisfies LedgerParams)
    this.scheduleIdle()
  }

  /** Opens the chain stored in `db`, creating it from `genesis` (or a devnet genesis) when empty. */
  static async open (db: StateDb, opts: LocalChainOptions): Promise<LocalChain> {
    const storedGenesis = await db.get(META_GENESIS)
    if (storedGenesis !== undefined) {
      const genesis = parse<Genesis>(storedGenesis)
      const head = parse<{ height: number }>(await db.get(META_HEAD) ?? json({ height: 0 }))
      const headBlock = parse<Block>(await db.get(blockKey(head.height)) as Uint8Array)
      const genesisBlock = parse<Block>(await db.get(blockKey(0)) as Uint8Array)
      const chain = new LocalChain(db, genesis, genesisBlock.hash, headBlock, opts)
      // A chain written before the index: its escrows are indexed once, when it is opened.
      if (await db.get(META_LEASE_INDEX) === undefined) {
        await db.batch([...await chain.state.leaseIndexBackfill(), { type: 'put', key: META_LEASE_INDEX, value: json(1) }])
      }
      return chain
    }
    const genesis = opts.genesis ?? devGenesis((opts.now ?? Date.now)())
    const txRoot = blake2AsHex(canonicalJson(genesis), 256) as Hex
    const header = { height: 0, parent: ('0x' + '00'.repeat(32)) as Hex, timestamp: genesis.timestamp, txRoot }
    const hash = blake2AsHex(canonicalJson(header), 256) as Hex
    const block: Block = { ...header, hash, txs: [], signature: u8aToHex(await opts.hostKey.sign(Buffer.from(hash.slice(2), 'hex'))) as Hex }
    const chain = new LocalChain(db, genesis, hash, block, opts)
    for (const e of genesis.endowments) await chain.state.mint(e.address, BigInt(e.amount))
    await db.batch([
      ...chain.state.flush(),
      { type: 'put', key: META_GENESIS, value: json(genesis) },
      { type: 'put', key: META_LEASE_INDEX, value: json(1) },
      { type: 'put', key: blockKey(0), value: json(block) },
      { type: 'put', key: timeKey(block.timestamp, 0), value: json(0) },
      { type: 'put', key: META_HEAD, value: json({ height: 0 }) }
    ])
    return chain
  }

  // ---- submitting ---------------------------------------------------------------------

  async submit (wallet: TxSigner, call: LedgerCall): Promise<TxReceipt> {
    // Nonce choice and admission are serialised per account, so concurrent submits from one
    // wallet get consecutive nonces; waiting for inclusion is not.
    const previous = this.admitting.get(wallet.address) ?? Promise.resolve()
    const admitted = previous.catch(() => {}).then(async () => await this.admit(signTx(wallet, this.genesisHash, await this.nextNonce(wallet.address), call)))
    this.admitting.set(wallet.address, admitted)
    try {
      return await (await admitted).included
    } finally {
      if (this.admitting.get(wallet.address) === admitted) this.admitting.delete(wallet.address)
    }
  }

  /** The account's nonce after its pending transactions: what its next transaction should use. */
  async nextNonce (address: Address): Promise<number> {
    const queued = this.pending.get(address)
    let nonce = (await this.state.account(address)).nonce
    while (queued?.has(nonce) === true) nonce++
    return nonce
  }

  /** Admits a signed transaction (from this process or a client) and resolves when it is in a block. */
  async submitSigned (tx: SignedTx): Promise<TxReceipt> {
    return await (await this.admit(tx)).included
  }

  /**
   * Checks signature and nonce and queues the transaction; resolves (once queued) to the
   * promise of its inclusion (wrapped: an async function returning a bare promise would wait
   * for it). Refusals here cost nothing: no nonce is consumed.
   */
  private async admit (tx: SignedTx): Promise<{ included: Promise<TxReceipt> }> {
    if (this.closed) throw new LedgerUnavailableError('the local ledger is shutting down')
    const fail = (code: LedgerRejection, message: string): never => { throw new LedgerTxError(code, tx.call.kind, message) }
    if (!verifyTx(this.genesisHash, tx)) fail('BAD_SIGNATURE', `signature does not match ${tx.signer} for this chain`)
    const account = await this.state.account(tx.signer)
    if (tx.nonce < account.nonce) fail('NONCE_REPLAYED', `nonce ${tx.nonce} already used (account nonce is ${account.nonce})`)
    if (tx.nonce > account.nonce + this.opts.maxNonceGap) fail('BAD_NONCE', `nonce ${tx.nonce} is too far ahead of ${account.nonce}`)
    let queue = this.pending.get(tx.signer)
    if (queue?.has(tx.nonce) === true) fail('NONCE_REPLAYED', `nonce ${tx.nonce} is already pending`)
    const hash = txHash(tx)
    if (queue == null) { queue = new Map(); this.pending.set(tx.signer, queue) }
    const q = queue
    const included = new Promise<TxReceipt>((resolve, reject) => {
      q.set(tx.nonce, { tx, hash, seq: this.seq++, resolve, reject })
    })
    this.pendingCount++
    this.scheduleBatch()
    return { included }
  }

  // ---- block production ------------------------------------------------------------------

  private scheduleBatch (): void {
    if (this.batchTimer != null || this.closed) return
    this.batchTimer = setTimeout(() => { this.batchTimer = undefined; this.produceSafely() }, this.pendingCount >= this.opts.maxBlockTxs ? 0 : this.opts.batchMs)
  }

  private scheduleIdle (): void {
    clearTimeout(this.idleTimer)
    if (this.closed) return
    this.idleTimer = setTimeout(() => { this.produceSafely() }, this.opts.idleBlockMs)
    this.idleTimer.unref()
  }

  /** Timer-driven production: a failed block (its batch did not persist) is retried by the next timer, never thrown at the process. */
  private produceSafely (): void {
    this.produce().catch(err => {
      if (this.closed) return
      this.blockErrors++
      this.lastBlockError = (err as Error).message
      this.scheduleIdle()
    })
  }

  /** Blocks that failed to persist since start (and the last reason): visible to operators through the API. */
  blockErrors = 0
  lastBlockError?: string

  /** Produces one block from the executable pending transactions (one producer at a time). */
  private async produce (): Promise<void> {
    if (this.producing != null) { await this.producing; if (this.pendingCount > 0) this.scheduleBatch(); return }
    this.producing = this.produceBlock().finally(() => { this.producing = undefined })
    await this.producing
    if (this.pendingCount > 0) this.scheduleBatch()
  }

  /** Takes transactions in arrival order, each only once its account's earlier nonces are in. */
  private async selectExecutable (): Promise<Pending[]> {
    const nextNonce = new Map<Address, number>()
    for (const address of this.pending.keys()) nextNonce.set(address, (await this.state.account(address)).nonce)
    const chosen: Pending[] = []
    const candidates = [...this.pending.values()].flatMap(q => [...q.values()]).sort((a, b) => a.seq - b.seq)
    let progress = true
    const taken = new Set<Pending>()
    while (progress && chosen.length < this.opts.maxBlockTxs) {
      progress = false
      for (const p of candidates) {
        if (taken.has(p) || chosen.length >= this.opts.maxBlockTxs) continue
        if (p.tx.nonce === nextNonce.get(p.tx.signer)) {
          chosen.push(p); taken.add(p); nextNonce.set(p.tx.signer, p.tx.nonce + 1); progress = true
        }
      }
    }
    return chosen
  }

  private async produceBlock (): Promise<void> {
    const chosen = await this.selectExecutable()
    const parent = this.headBlock
    const height = parent.height + 1
    const timestamp = Math.max(parent.timestamp + 1, this.opts.now())
    const records: Array<{ p: Pending, record: TxRecord }> = []
    for (const [index, p] of chosen.entries()) {
      const record: TxRecord = { height, index, tx: p.tx }
      try {
        await this.state.apply(p.tx.signer, p.tx.call, { height, now: timestamp, txHash: p.hash })
      } catch (err) {
        if (!(err instanceof LedgerTxError)) throw err
        record.error = { code: err.code, message: err.detail }
      }
      await this.state.bumpNonce(p.tx.signer)
      records.push({ p, record })
    }
    const txs = chosen.map(p => p.hash)
    const txRoot = blake2AsHex(canonicalJson(txs), 256) as Hex
    const header = { height, parent: parent.hash, timestamp, txRoot }
    const hash = blake2AsHex(canonicalJson(header), 256) as Hex
    const block: Block = { ...header, hash, txs, signature: u8aToHex(await this.opts.hostKey.sign(Buffer.from(hash.slice(2), 'hex'))) as Hex }
    try {
      await this.db.batch([
        ...this.state.flush(),
        ...records.map(({ p, record }) => ({ type: 'put' as const, key: txKey(p.hash), value: json(record) })),
        { type: 'put', key: blockKey(height), value: json(block) },
        { type: 'put', key: timeKey(timestamp, height), value: json(height) },
        { type: 'put', key: META_HEAD, value: json({ height }) }
      ])
    } catch (err) {
      // Nothing was written: drop the in-memory changes, leave the transactions pending.
      this.state.discard()
      this.scheduleIdle()
      throw err
    }
    this.headBlock = block
    for (const { p, record } of records) {
      this.pending.get(p.tx.signer)?.delete(p.tx.nonce)
      if (this.pending.get(p.tx.signer)?.size === 0) this.pending.delete(p.tx.signer)
      this.pendingCount--
      if (record.error != null) p.reject(new LedgerTxError(record.error.code, p.tx.call.kind, record.error.message))
      else p.resolve({ txHash: p.hash, height, blockHash: hash })
    }
    const event: LedgerEvent = { kind: 'block', head: { height, hash, timestamp }, txCount: txs.length }
    for (const l of this.listeners) { try { l(event) } catch {} }
    this.scheduleIdle()
  }

  // ---- queries -------------------------------------------------------------------------

  async head (): Promise<ChainHead> { return { height: this.headBlock.height, hash: this.headBlock.hash, timestamp: this.headBlock.timestamp } }
  async block (height: number): Promise<Block | undefined> {
    const bytes = await this.db.get(blockKey(height))
    return bytes === undefined ? undefined : parse<Block>(bytes)
  }

  async transaction (hash: string): Promise<TxRecord | undefined> {
    const bytes = await this.db.get(txKey(hash))
    return bytes === undefined ? undefined : parse<TxRecord>(bytes)
  }

  async account (address: Address): Promise<AccountInfo> { return await this.state.account(address) }
  async provider (address: Address): Promise<ProviderRegistration | undefined> { return await this.state.provider(address) }
  async checker (address: Address): Promise<CheckerLicence | undefined> { return await this.state.checker(address) }
  async registration (peerId: string): Promise<PeerRegistration | undefined> { return await this.state.registration(peerId) }
  async escrow (leaseId: string): Promise<LeaseEscrow | undefined> { return await this.state.escrow(leaseId) }
  async settlement (epoch: number): Promise<EpochSettlement | undefined> { return await this.state.settlement(epoch) }
  async providers (): Promise<ProviderRegistration[]> { return await this.state.providers() }
  async checkers (): Promise<CheckerLicence[]> { return await this.state.checkers() }

  async registryChanges (since?: number, cursor?: string): Promise<RegistryPage> {
    // The head first: a block's changes are stored before it becomes the head, so every change up
    // to `height` is in the index now. A `since` past the head is another chain's: start over.
    const height = this.headBlock.height
    const full = since === undefined || since > height
    const page = await this.state.registryPage(full ? undefined : since, height, cursor, this.opts.registryPageSize)
    return { height, full, ...page }
  }
  async leasesOf (provider: Address): Promise<LeaseEscrow[]> { return await this.state.leasesOf(provider) }

  async seedAt (timestamp: number): Promise<{ seed: Hex, height: number }> {
    // Blocks get the host's time when produced, so once the clock has passed `timestamp`
    // no block at or before it can still appear: the answer is final.
    if (this.opts.now() <= timestamp) throw new LedgerUnavailableError(`the ledger has not reached ${timestamp} yet`, 'LEDGER_NOT_YET')
    let height = 0
    for await (const value of this.db.values({ lte: timeKey(timestamp, 999_999_999_999), gte: 'ledger/time/', reverse: true, limit: 1 })) height = parse<number>(value)
    const block = await this.block(height) as Block
    return { seed: blake2AsHex(`kaisar-seed/${block.hash}`, 256) as Hex, height }
  }

  subscribe (listener: (e: LedgerEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.batchTimer)
    clearTimeout(this.idleTimer)
    await this.producing?.catch(() => {})
    for (const queue of this.pending.values()) {
      for (const p of queue.values()) p.reject(new LedgerUnavailableError('the local ledger stopped before this transaction was included'))
    }
    this.pending.clear()
    this.pendingCount = 0
  }

  /** Sum of free + locked over `addresses` (conservation checks). */
  async totalOf (addresses: Address[]): Promise<Amount> { return await this.state.total(addresses) }
}
