// Signed DHT records: `/<namespace>/<peer id>` → SignedRecord. Only the named peer may
// sign; versions only go up. Pure functions: the node decides what "newest known" is.
import { peerIdFromString } from '@libp2p/peer-id'
import { signWithDomain, verifyWithDomain } from '../signing.js'
import { SignedRecord } from './signed-record.js'
import type { RecordNamespace } from '../ids.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'

export { SignedRecord }

export const MAX_RECORD_BYTES = 16 * 1024

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function recordKey (namespace: RecordNamespace, peer: PeerId): Uint8Array {
  return encoder.encode(`/${namespace}/${peer.toString()}`)
}

/** Splits `/<namespace>/<peer id>`; undefined when the key is not of that form. */
export function parseRecordKey (key: Uint8Array): { namespace: string, peer: PeerId } | undefined {
  const parts = decoder.decode(key).split('/')
  if (parts.length !== 3 || parts[0] !== '' || parts[1] == null || parts[2] == null) return undefined
  try {
    return { namespace: parts[1], peer: peerIdFromString(parts[2]) }
  } catch {
    return undefined
  }
}

function body (rec: SignedRecord): Uint8Array {
  return SignedRecord.encode({ ...rec, signature: new Uint8Array(0) })
}

export async function sealRecord (key: PrivateKey, signer: PeerId, namespace: RecordNamespace, version: bigint, payload: Uint8Array<ArrayBuffer>, timestamp = Date.now()): Promise<Uint8Array> {
  const rec: SignedRecord = { signer: new Uint8Array(signer.toMultihash().bytes), version, timestamp: BigInt(timestamp), payload, signature: new Uint8Array(0) }
  rec.signature = new Uint8Array(await signWithDomain(key, namespace, body(rec)))
  return SignedRecord.encode(rec)
}

export type RecordRejection = 'too-large' | 'bad-key' | 'malformed' | 'unsigned' | 'bad-signer' | 'bad-signature' | 'wrong-signer'
export type OpenedRecord = { ok: true, record: SignedRecord, signer: PeerId } | { ok: false, reason: RecordRejection }

/** Checks that `value` is a well-formed record for `key`, signed by the peer the key names. */
export async function openRecord (key: Uint8Array, value: Uint8Array): Promise<OpenedRecord> {
  if (value.byteLength > MAX_RECORD_BYTES) return { ok: false, reason: 'too-large' }
  const parsed = parseRecordKey(key)
  if (parsed == null) return { ok: false, reason: 'bad-key' }
  let record: SignedRecord
  try {
    record = SignedRecord.decode(value)
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  const check = await verifyWithDomain(record.signer, parsed.namespace, body(record), record.signature)
  if (!check.ok) return check
  if (!check.peerId.equals(parsed.peer)) return { ok: false, reason: 'wrong-signer' }
  return { ok: true, record, signer: check.peerId }
}
