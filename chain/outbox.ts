// The durable outbox: every settlement and payment the node owes the chain is written to
// the state DB before it is sent, sent in order, retried with capped exponential backoff
// while the ledger is unreachable, and resumed after a restart.
//
// Exactly once: only calls the ledger itself refuses to apply twice may enter (a settlement
// per epoch, a deposit/start/close per lease, a registration, a transfer with a ref). When an
// attempt's answer is lost, the retry is refused as DUPLICATE, which the outbox reads as
// "already settled": a retry never pays twice.
import { LedgerTxError, type Ledger, type LedgerCall, type TxReceipt } from './ledger.js'
import { callSchema, canonicalJson } from './local/codec.js'
import { KaisarError } from '../node/errors.js'
import type { TxSigner } from '../node/identity/signer.js'
import type { Logger } from '../node/log.js'
import type { StateDb } from '../node/store/state-db.js'
import type { Startable } from '@libp2p/interface'

export type OutboxStatus = 'pending' | 'settled' | 'failed'

export interface OutboxEntry {
  key: string
  seq: number
  call: LedgerCall
  status: OutboxStatus
  attempts: number
  createdAt: number
  settledAt?: number
  receipt?: TxReceipt
  /** Settled by an earlier attempt whose answer was lost (the ledger said DUPLICATE). */
  duplicate?: boolean
  error?: { code: string, message: string }
  lastError?: string
}

export class OutboxError extends KaisarError<{ code: 'NOT_IDEMPOTENT' | 'FAILED' | 'STOPPED', key: string }> {
  constructor (code: 'NOT_IDEMPOTENT' | 'FAILED' | 'STOPPED', key: string, message: string) {
    super({ code, key }, message)
  }
}

/** Whether the ledger refuses a second application of this call (so resending it is safe). */
export function isIdempotent (call: LedgerCall): boolean {
  switch (call.kind) {
    case 'transfer': return call.ref != null
    case 'faucet': return false
    default: return true
  }
}

const PREFIX = 'outbox/entry/'

export interface OutboxMetrics {
  onSent?: (kind: string, result: 'settled' | 'duplicate' | 'failed' | 'retry') => void
  onPending?: (count: number) => void
}

export interface OutboxInit {
  minBackoffMs?: number
  maxBackoffMs?: number
  now?: () => number
}

export class Outbox implements Startable {
  private readonly ledger: Ledger
  private readonly wallet: TxSigner
  private readonly db: StateDb
  private readonly log: Logger
  private readonly metrics: OutboxMetrics
  private readonly minBackoffMs: number
  private readonly maxBackoffMs: number
  private readonly now: () => number
  private readonly entries = new Map<string, OutboxEntry>()
  private readonly queue: string[] = []
  private readonly waiters = new Map<string, Array<{ resolve: (r: TxReceipt | undefined) => void, reject: (e: Error) => void }>>()
  private nextSeq = 0
  private running = false
  private worker?: Promise<void>
  private wake?: () => void
  private sleepTimer?: NodeJS.Timeout

  constructor (components: { ledger: Ledger, wallet: TxSigner, db: StateDb, logger: Logger, metrics?: OutboxMetrics }, init: OutboxInit = {}) {
    this.ledger = components.ledger
    this.wallet = components.wallet
    this.db = components.db
    this.log = components.logger
    this.metrics = components.metrics ?? {}
    this.minBackoffMs = init.minBackoffMs ?? 500
    this.maxBackoffMs = init.maxBackoffMs ?? 30_000
    this.now = init.now ?? Date.now
  }

  async start (): Promise<void> {
    if (this.running) return
    for await (const [key, value] of this.db.iterator({ gte: PREFIX, lt: PREFIX + '\xff' })) {
      const entry = this.decode(value)
      this.entries.set(key.slice(PREFIX.length), entry)
      this.nextSeq = Math.max(this.nextSeq, entry.seq + 1)
    }
    const pending = [...this.entries.values()].filter(e => e.status === 'pending').sort((a, b) => a.seq - b.seq)
    this.queue.push(...pending.map(e => e.key))
    if (pending.length > 0) this.log.info({ pending: pending.length }, 'outbox resumes unsent calls')
    this.running = true
    this.metrics.onPending?.(this.queue.length)
    this.worker = this.work()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    clearTimeout(this.sleepTimer)
    this.wake?.()
    await this.worker
    for (const [key, list] of this.waiters) for (const w of list) w.reject(new OutboxError('STOPPED', key, 'the outbox stopped; the call stays queued and is sent after a restart'))
    this.waiters.clear()
  }

  /**
   * Persists `call` under `key` and queues it. A key seen before (pending, settled or failed)
   * is not queued again: enqueueing is itself idempotent.
   */
  async enqueue (key: string, call: LedgerCall): Promise<void> {
    if (!isIdempotent(call)) throw new OutboxError('NOT_IDEMPOTENT', key, `${call.kind} without an idempotency key cannot be sent exactly once`)
    if (this.entries.has(key)) return
    const entry: OutboxEntry = { key, seq: this.nextSeq++, call, status: 'pending', attempts: 0, createdAt: this.now() }
    this.entries.set(key, entry)
    await this.persist(entry)
    this.queue.push(key)
    this.metrics.onPending?.(this.queue.length)
    this.wake?.()
  }

  entry (key: string): OutboxEntry | undefined {
    return this.entries.get(key)
  }

  /** The receipt of a settled call (undefined when pending, failed, unknown, or settled as a duplicate). */
  settled (key: string): TxReceipt | undefined {
    const e = this.entries.get(key)
    return e?.status === 'settled' ? e.receipt : undefined
  }

  pending (): number {
    return this.queue.length
  }

  /** Resolves when `key` is settled (with its receipt, or undefined for a duplicate); rejects if it failed for good. */
  async waitSettled (key: string, signal?: AbortSignal): Promise<TxReceipt | undefined> {
    const e = this.entries.get(key)
    if (e == null) throw new OutboxError('FAILED', key, `nothing queued under ${key}`)
    if (e.status === 'settled') return e.receipt
    if (e.status === 'failed') throw new OutboxError('FAILED', key, `${key} failed: ${e.error?.message ?? ''}`)
    return await new Promise((resolve, reject) => {
      const list = this.waiters.get(key) ?? []
      list.push({ resolve, reject })
      this.waiters.set(key, list)
      signal?.addEventListener('abort', () => { reject(signal.reason as Error) }, { once: true })
    })
  }

  private async work (): Promise<void> {
    while (this.running) {
      const key = this.queue[0]
      if (key == null) { await this.sleep(); continue }
      const entry = this.entries.get(key) as OutboxEntry
      entry.attempts++
      try {
        const receipt = await this.ledger.submit(this.wallet, entry.call)
        await this.finish(entry, { status: 'settled', receipt })
        this.metrics.onSent?.(entry.call.kind, 'settled')
      } catch (err) {
        if (err instanceof LedgerTxError && err.code === 'DUPLICATE') {
          await this.finish(entry, { status: 'settled', duplicate: true })
          this.metrics.onSent?.(entry.call.kind, 'duplicate')
        } else if (err instanceof LedgerTxError) {
          // The ledger's rules refuse it: sending it again gives the same answer.
          this.log.error({ key, code: err.code, err: err.message }, 'outbox call refused by the ledger')
          await this.finish(entry, { status: 'failed', error: { code: err.code, message: err.message } })
          this.metrics.onSent?.(entry.call.kind, 'failed')
        } else {
          entry.lastError = (err as Error).message
          await this.persist(entry).catch(() => {})
          this.metrics.onSent?.(entry.call.kind, 'retry')
          const delay = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(entry.attempts - 1, 20))
          const jittered = Math.round(delay * (0.75 + Math.random() * 0.5))
          this.log[entry.attempts === 1 || entry.attempts % 10 === 0 ? 'warn' : 'debug']({ key, attempts: entry.attempts, retryMs: jittered, err: entry.lastError }, 'ledger unreachable, will retry')
          await this.sleep(jittered)
        }
      }
    }
  }

  private async finish (entry: OutboxEntry, update: Partial<OutboxEntry>): Promise<void> {
    Object.assign(entry, update, { settledAt: this.now() })
    await this.persist(entry)
    this.queue.shift()
    this.metrics.onPending?.(this.queue.length)
    const list = this.waiters.get(entry.key) ?? []
    this.waiters.delete(entry.key)
    for (const w of list) {
      if (entry.status === 'settled') w.resolve(entry.receipt)
      else w.reject(new OutboxError('FAILED', entry.key, `${entry.key} failed: ${entry.error?.message ?? ''}`))
    }
  }

  private async persist (entry: OutboxEntry): Promise<void> {
    await this.db.put(PREFIX + entry.key, Buffer.from(canonicalJson(entry)))
  }

  private decode (bytes: Uint8Array): OutboxEntry {
    const raw = JSON.parse(Buffer.from(bytes).toString('utf8')) as OutboxEntry & { call: unknown }
    return { ...raw, call: callSchema.parse(raw.call) as LedgerCall }
  }

  private async sleep (ms?: number): Promise<void> {
    await new Promise<void>(resolve => {
      this.wake = () => { clearTimeout(this.sleepTimer); this.wake = undefined; resolve() }
      if (ms != null) this.sleepTimer = setTimeout(() => { this.wake?.() }, ms)
    })
  }
}
