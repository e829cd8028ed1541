import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Level } from 'level'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RECORD_NAMESPACES } from '../../protocols/ids.js'
import { openRecord, recordKey, sealRecord, SignedRecord } from '../../protocols/records/codec.js'
import { NodeMetrics } from '../../node/metrics/registry.js'
import { RecordRejectedError, RecordVersionIndex, recordValidators } from '../../node/network/records/validators.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import { metricValue } from '../helpers/wait.js'

const NS = RECORD_NAMESPACES.provider
const payload = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s)

test.after(removeTempDirs)

async function keys (): Promise<{ key: Awaited<ReturnType<typeof generateKeyPair>>, peer: ReturnType<typeof peerIdFromPrivateKey> }> {
  const key = await generateKeyPair('Ed25519')
  return { key, peer: peerIdFromPrivateKey(key) }
}

test('a record opens only under the key of the peer that signed it', async () => {
  const a = await keys()
  const b = await keys()
  const value = await sealRecord(a.key, a.peer, NS, 3n, payload('x'))
  const ok = await openRecord(recordKey(NS, a.peer), value)
  assert.ok(ok.ok)
  if (ok.ok) assert.is(ok.record.version, 3n)
  assert.equal(await openRecord(recordKey(NS, b.peer), value), { ok: false, reason: 'wrong-signer' })
  assert.equal(await openRecord(new TextEncoder().encode('/kaisar-provider/not-a-peer'), value), { ok: false, reason: 'bad-key' })
  const forged = SignedRecord.encode({ ...SignedRecord.decode(value), version: 4n })
  assert.equal(await openRecord(recordKey(NS, a.peer), forged), { ok: false, reason: 'bad-signature' })
})

test('validator: refuses forged records and older versions (remembered across restarts), counts each', async () => {
  const dir = await tempDir()
  const dbPath = path.join(dir, 'state')
  let db = new Level<string, Uint8Array>(dbPath, { valueEncoding: 'view' })
  const metrics = new NodeMetrics()
  let { validators, selectors } = recordValidators(new RecordVersionIndex(db), metrics)
  const a = await keys()
  const key = recordKey(NS, a.peer)
  const v1 = await sealRecord(a.key, a.peer, NS, 1n, payload('v1'))
  const v2 = await sealRecord(a.key, a.peer, NS, 2n, payload('v2'))
  const validate = validators[NS]
  assert.ok(validate)
  await validate(key, v1)
  await validate(key, v2)
  await validate(key, v2) // the same version again (re-put, replication) is fine
  const rejectedWith = async (value: Uint8Array): Promise<string> => {
    try { await validators[NS]?.(key, value); return 'accepted' } catch (err) { assert.instance(err, RecordRejectedError); return (err as RecordRejectedError).type.reason }
  }
  assert.is(await rejectedWith(v1), 'older-version')
  const b = await keys()
  assert.is(await rejectedWith(await sealRecord(b.key, b.peer, NS, 9n, payload('evil'))), 'wrong-signer')
  assert.is(await rejectedWith(new Uint8Array([1, 2, 3])), 'malformed')

  // After a restart the index still knows version 2.
  await db.close()
  db = new Level<string, Uint8Array>(dbPath, { valueEncoding: 'view' });
  ({ validators, selectors } = recordValidators(new RecordVersionIndex(db), metrics))
  assert.is(await rejectedWith(v1), 'older-version')
  assert.is(await selectors[NS]?.(key, [v1, v2, v1]), 1)
  await db.close()

  const text = await metrics.registry.metrics()
  assert.is(metricValue(text, 'kaisar_records_rejected_total', { namespace: NS, reason: 'older-version' }), 2)
  assert.is(metricValue(text, 'kaisar_records_rejected_total', { namespace: NS, reason: 'wrong-signer' }), 1)
})

test.run()
