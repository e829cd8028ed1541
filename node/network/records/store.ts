// Publishing this node's signed records into the DHT and fetching (verified) records of
// others. The own version counter is persisted, so a restarted node publishes version + 1.
import { openRecord, recordKey, sealRecord, type SignedRecord } from '../../../protocols/records/codec.js'
import type { RecordNamespace } from '../../../protocols/ids.js'
import type { Logger } from '../../log.js'
import type { NodeMetrics } from '../../metrics/registry.js'
import type { KaisarLibp2p } from '../libp2p.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { StateDb } from '../../store/state-db.js'

export interface SealedRecord { namespace: RecordNamespace, version: bigint, value: Uint8Array }

export interface FetchedRecord { signer: PeerId, version: bigint, timestamp: number, payload: Uint8Array }

export class SignedRecordStore {
  private readonly libp2p: KaisarLibp2p
  private readonly privateKey: PrivateKey
  private readonly metrics: NodeMetrics
  private readonly log: Logger
  private readonly versions
  private readonly current = new Map<RecordNamespace, bigint>()

  constructor (components: { libp2p: KaisarLibp2p, privateKey: PrivateKey, stateDb: StateDb, metrics: NodeMetrics, logger: Logger }) {
    this.libp2p = components.libp2p
    this.privateKey = components.privateKey
    this.metrics = components.metrics
    this.log = components.logger
    this.versions = components.stateDb.sublevel<string, string>('own-record-versions', { valueEncoding: 'utf8' })
  }

  /** Version of the record this node last published in `namespace` (0 = none yet). */
  version (namespace: RecordNamespace): bigint {
    return this.current.get(namespace) ?? 0n
  }

  async load (namespace: RecordNamespace): Promise<bigint> {
    const stored = await this.versions.get(namespace)
    const version = stored === undefined ? 0n : BigInt(stored)
    this.current.set(namespace, version)
    return version
  }

  /**
   * Signs `payload` as the next version. The version is persisted before the value is
   * returned, so a crash between signing and putting never reuses a version number.
   */
  async sign (namespace: RecordNamespace, payload: Uint8Array<ArrayBuffer>): Promise<SealedRecord> {
    const version = (this.current.get(namespace) ?? await this.load(namespace)) + 1n
    await this.versions.put(namespace, version.toString())
    this.current.set(namespace, version)
    return { namespace, version, value: await sealRecord(this.privateKey, this.libp2p.peerId, namespace, version, payload) }
  }

  /**
   * Puts a signed record into the DHT (again, if it was put before) and returns the peers that
   * stored it. Throws unless at least one other peer accepted it: a put that reached nobody (an
   * empty routing table right after start) must be retried, not counted as published.
   */
  async put (sealed: SealedRecord, signal?: AbortSignal): Promise<string[]> {
    const stored: string[] = []
    for await (const event of this.libp2p.services.dht.put(recordKey(sealed.namespace, this.libp2p.peerId), sealed.value, { signal })) {
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') stored.push(event.from.toString())
    }
    if (stored.length === 0) throw new Error('no peer stored the record')
    this.metrics.recordsPublished.inc({ namespace: sealed.namespace })
    this.log.debug({ namespace: sealed.namespace, version: sealed.version.toString() }, 'record put')
    return stored
  }

  /** Fetches `peer`'s record from the DHT; undefined when none is found. Only verified records are returned. */
  async fetch (namespace: RecordNamespace, peer: PeerId, signal?: AbortSignal): Promise<FetchedRecord | undefined> {
    const key = recordKey(namespace, peer)
    let value: Uint8Array
    try {
      value = await this.libp2p.contentRouting.get(key, { signal })
    } catch (err) {
      // libp2p's content routing asks every router and reports an AggregateError of their NotFoundErrors.
      const errors = err instanceof AggregateError ? err.errors as Error[] : [err as Error]
      if (errors.every(e => e?.name === 'NotFoundError')) return undefined
      throw err
    }
    const opened = await openRecord(key, value)
    if (!opened.ok) return undefined
    return toFetched(opened.record, opened.signer)
  }
}

function toFetched (record: SignedRecord, signer: PeerId): FetchedRecord {
  return { signer, version: record.version, timestamp: Number(record.timestamp), payload: record.payload }
}
