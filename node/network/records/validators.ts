// kad-dht validators and selectors for the node's signed-record namespaces. Beyond the
// signature, a validator remembers the newest version it has seen per key (persisted), so a
// genuine but older record replayed into the DHT is refused rather than served.
import { openRecord, parseRecordKey, SignedRecord, type RecordRejection } from '../../../protocols/records/codec.js'
import { RECORD_NAMESPACES, type RecordNamespace } from '../../../protocols/ids.js'
import { KaisarError } from '../../errors.js'
import type { NodeMetrics } from '../../metrics/registry.js'
import type { Selectors, Validators } from '@libp2p/kad-dht'
import type { StateDb, SubDb } from '../../store/state-db.js'

export class RecordRejectedError extends KaisarError<{ code: 'RECORD_REJECTED', reason: RecordRejection | 'older-version' }> {
  constructor (reason: RecordRejection | 'older-version') {
    super({ code: 'RECORD_REJECTED', reason }, `record rejected: ${reason}`)
  }
}

/** Newest version seen per record key; in memory, written through to the state DB. */
export class RecordVersionIndex {
  private readonly db: SubDb
  private readonly cache = new Map<string, bigint>()

  constructor (stateDb: StateDb) {
    this.db = stateDb.sublevel<string, string>('record-versions', { valueEncoding: 'utf8' })
  }

  async get (key: string): Promise<bigint | undefined> {
    const cached = this.cache.get(key)
    if (cached !== undefined) return cached
    const stored = await this.db.get(key)
    if (stored === undefined) return undefined
    const version = BigInt(stored)
    this.cache.set(key, version)
    return version
  }

  async observe (key: string, version: bigint): Promise<void> {
    const known = await this.get(key)
    if (known !== undefined && known >= version) return
    this.cache.set(key, version)
    await this.db.put(key, version.toString())
  }
}

const decoder = new TextDecoder()

export function recordValidators (index: RecordVersionIndex, metrics: NodeMetrics): { validators: Validators, selectors: Selectors } {
  const validators: Validators = {}
  const selectors: Selectors = {}
  for (const namespace of Object.values(RECORD_NAMESPACES) as RecordNamespace[]) {
    validators[namespace] = async (key, value) => {
      const opened = await openRecord(key, value)
      if (!opened.ok) {
        metrics.recordsRejected.inc({ namespace, reason: opened.reason })
        throw new RecordRejectedError(opened.reason)
      }
      const keyText = decoder.decode(key)
      const known = await index.get(keyText)
      if (known !== undefined && opened.record.version < known) {
        metrics.recordsRejected.inc({ namespace, reason: 'older-version' })
        throw new RecordRejectedError('older-version')
      }
      await index.observe(keyText, opened.record.version)
    }
    // Records reaching the selector have passed the validator: pick the highest version.
    selectors[namespace] = (_key, records) => {
      let best = 0
      let bestVersion = -1n
      records.forEach((bytes, i) => {
        try {
          const version = SignedRecord.decode(bytes).version
          if (version > bestVersion) { best = i; bestVersion = version }
        } catch {}
      })
      return best
    }
  }
  return { validators, selectors }
}

export { parseRecordKey }
