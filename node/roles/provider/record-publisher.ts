// Puts this provider's signed ProviderRecord into the DHT: a new version at every start
// and whenever its content changes; the same signed value again on a timer (and after a
// failed put), so it outlives DHT record expiry and routing-table churn.
//
// A version's first put is made while this node's routing table is still filling: its
// "closest peers" then are only the closest it knew of, and a lookup a minute later asks the
// true closest, none of which hold it (seen among 50 nodes: 5 of 40 records found by nobody,
// with every put reported stored). So a version is put again every `settleMs` until two puts
// in a row reach mostly the same peers (the closest set stopped moving); only then is it
// published, and republished every `republishMs`.
import { RECORD_NAMESPACES } from '../../../protocols/ids.js'
import { ProviderRecord } from '../../../protocols/records/provider-record.js'
import { jitteredBackoff } from '../../runtime/backoff.js'
import { DEFAULT_RECORD_REPUBLISH_MS } from '../../config/schema.js'
import type { Logger } from '../../log.js'
import type { SealedRecord, SignedRecordStore } from '../../network/records/store.js'
import type { Startable } from '@libp2p/interface'

export interface ProviderRecordPublisherInit {
  /** Builds the record's content (addresses and inventory can change while running). */
  content: () => ProviderRecord
  /** Between puts of a settled version (default 10 min, the config's provider.recordRepublishMs). */
  republishMs?: number
  /** First retry after a failed put (default 2 s); doubles with every failure in a row, up to 32 s. */
  retryMs?: number
  /** Delay between puts of a version until its closest peers stop changing (default 30 s). */
  settleMs?: number
}

export class ProviderRecordPublisher implements Startable {
  private readonly records: SignedRecordStore
  private readonly log: Logger
  private readonly init: ProviderRecordPublisherInit
  private lastContent?: Uint8Array
  private sealed?: SealedRecord
  private timer?: NodeJS.Timeout
  private running = false
  /** The version put last, the peers that stored it, and whether its closest peers have settled. */
  private lastPut?: { version: bigint, peers: string[], settled: boolean }
  /** Puts that failed in a row: the retry backs off. */
  private failedPuts = 0

  constructor (components: { records: SignedRecordStore, logger: Logger }, init: ProviderRecordPublisherInit) {
    this.records = components.records
    this.log = components.logger
    this.init = init
  }

  /** Version of the record this provider currently publishes. */
  get version (): bigint {
    return this.records.version(RECORD_NAMESPACES.provider)
  }

  async start (): Promise<void> {
    this.running = true
    await this.refresh()
    this.schedule(0)
  }

  async stop (): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
  }

  /** Whether the current version has been put to a settled set of closest peers. */
  get published (): boolean {
    return this.sealed != null && this.lastPut?.version === this.sealed.version && this.lastPut.settled
  }

  /** Something in the record changed (addresses: a relay reservation made or lost): sign and put it soon. */
  republishSoon (): void {
    if (this.running) this.schedule(250)
  }

  /** Signs a new version when the content changed since the last one. */
  async refresh (): Promise<SealedRecord> {
    const content = ProviderRecord.encode(this.init.content())
    if (this.sealed == null || this.lastContent == null || Buffer.compare(content, this.lastContent) !== 0) {
      this.sealed = await this.records.sign(RECORD_NAMESPACES.provider, content)
      this.lastContent = content
      this.log.info({ version: this.sealed.version.toString() }, 'provider record signed')
    }
    return this.sealed
  }

  private schedule (delayMs: number): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.refresh()
        .then(async sealed => {
          const peers = await this.records.put(sealed, AbortSignal.timeout(30_000))
          const previous = this.lastPut?.version === sealed.version ? this.lastPut.peers : []
          const settled = sameMostly(previous, peers)
          this.lastPut = { version: sealed.version, peers, settled }
          if (this.running) this.schedule(settled ? (this.init.republishMs ?? DEFAULT_RECORD_REPUBLISH_MS) : (this.init.settleMs ?? 30_000))
        })
        .then(() => { this.failedPuts = 0 }, err => {
          // Right after start the DHT may have no peers yet: the same value is put again soon.
          // Backed off with jitter (2 s … 32 s): when puts fail because the DHT is busy (a
          // network where hundreds of nodes start at once), a fixed 2 s retry only adds to it.
          this.failedPuts++
          this.log.debug({ err: (err as Error).message, failedPuts: this.failedPuts }, 'provider record put failed, retrying')
          if (this.running) this.schedule(jitteredBackoff(this.failedPuts, this.init.retryMs ?? 2_000, 32_000))
        })
    }, delayMs)
    this.timer.unref()
  }
}

/** At least 3 of 4 of the peers that stored this put also stored the previous one (the closest set stopped moving). */
function sameMostly (previous: string[], current: string[]): boolean {
  if (previous.length === 0) return false
  const before = new Set(previous)
  return current.filter(p => before.has(p)).length >= 0.75 * Math.max(previous.length, current.length)
}
