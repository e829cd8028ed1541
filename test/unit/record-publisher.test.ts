// The provider's record publisher: a version counts as published only once two puts in a row
// reached mostly the same peers (the first is made while the routing table fills), failed puts
// are retried with a backoff, and a content change signs a new version that must settle again.
import { pino } from 'pino'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RECORD_NAMESPACES } from '../../protocols/ids.js'
import { ProviderRecordPublisher } from '../../node/roles/provider/record-publisher.js'
import type { SealedRecord, SignedRecordStore } from '../../node/network/records/store.js'
import type { ProviderRecord } from '../../protocols/records/provider-record.js'

/** Signs by counting versions; `failPuts` puts fail before the next ones succeed; the nth put is stored by `storedBy(n)`. */
class FakeRecords {
  signed = 0n
  puts: bigint[] = []
  failPuts = 0
  /** When each put was attempted, failed or not. */
  attempts: number[] = []
  storedBy: (n: number) => string[] = () => ['a', 'b', 'c', 'd']
  version (): bigint { return this.signed }
  async sign (): Promise<SealedRecord> { this.signed++; return { namespace: RECORD_NAMESPACES.provider, version: this.signed, value: new Uint8Array([Number(this.signed)]) } }
  async put (sealed: SealedRecord): Promise<string[]> {
    this.attempts.push(Date.now())
    if (this.failPuts > 0) { this.failPuts--; throw new Error('no peer stored the record') }
    this.puts.push(sealed.version)
    return this.storedBy(this.puts.length)
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
async function until (what: string, ok: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms
  while (!ok()) { if (Date.now() > end) throw new Error(`timed out waiting for ${what}`); await sleep(5) }
}

function record (region: string): ProviderRecord {
  return { wallet: 'w', region, softwareVersion: '0', addresses: [], inventoryJson: '{}', benchmarkJson: '', pricesJson: '{}' }
}

function publisher (records: FakeRecords, content: () => ProviderRecord): ProviderRecordPublisher {
  return new ProviderRecordPublisher({ records: records as unknown as SignedRecordStore, logger: pino({ level: 'silent' }) },
    { content, settleMs: 100, retryMs: 20, republishMs: 60_000 })
}

test('a version is published after its second put, made settleMs after the first', async () => {
  const records = new FakeRecords()
  const p = publisher(records, () => record('DE'))
  await p.start()
  try {
    await until('first put', () => records.puts.length === 1)
    assert.not.ok(p.published, 'one put is not enough')
    const first = Date.now()
    await until('second put', () => records.puts.length === 2)
    assert.ok(Date.now() - first >= 80, 'the second put waits for the settle delay')
    assert.ok(p.published)
    assert.equal(records.puts, [1n, 1n])
    await sleep(150)
    assert.is(records.puts.length, 2, 'then nothing until the republish interval')
  } finally { await p.stop() }
})

test('while the peers storing it keep changing, the version is put again until they settle', async () => {
  const records = new FakeRecords()
  // 1st put: a routing table still filling; 2nd: the true closest; 3rd: the same, one peer swapped.
  records.storedBy = n => n === 1 ? ['a', 'b', 'c', 'd'] : n === 2 ? ['e', 'f', 'g', 'h'] : ['e', 'f', 'g', 'x']
  const p = publisher(records, () => record('DE'))
  await p.start()
  try {
    await until('second put', () => records.puts.length === 2)
    assert.not.ok(p.published, 'the second put reached other peers than the first')
    await until('published', () => p.published)
    assert.equal(records.puts, [1n, 1n, 1n])
  } finally { await p.stop() }
})

test('failed puts are retried and do not count', async () => {
  const records = new FakeRecords()
  records.failPuts = 3
  const p = publisher(records, () => record('DE'))
  await p.start()
  try {
    await until('published', () => p.published)
    assert.equal(records.puts, [1n, 1n])
    assert.is(records.failPuts, 0)
  } finally { await p.stop() }
})

test('failed puts back off: each retry waits at least half of twice the one before', async () => {
  const records = new FakeRecords()
  records.failPuts = 1_000
  const p = publisher(records, () => record('DE'))
  await p.start()
  try {
    await sleep(700)
    // retryMs 20, doubling, jittered to [½, 1] of it: 10–20, 20–40, 40–80, 80–160, 160–320 ms …
    // at most 7 attempts in 700 ms; a fixed 20 ms retry would make about 35.
    assert.ok(records.attempts.length >= 3 && records.attempts.length <= 7, `${records.attempts.length} attempts in 700 ms`)
    const gaps = records.attempts.slice(1).map((t, i) => t - (records.attempts[i] ?? t))
    gaps.forEach((gap, i) => { assert.ok(gap >= 20 * 2 ** i / 2 - 3, `retry ${i + 1} after ${gap} ms`) })
  } finally { await p.stop() }
})

test('changed content: a new version, unpublished until it too has been put twice', async () => {
  const records = new FakeRecords()
  let region = 'DE'
  const p = publisher(records, () => record(region))
  await p.start()
  try {
    await until('published', () => p.published)
    region = 'US'
    p.republishSoon()
    await until('the new version put once', () => records.puts.includes(2n))
    assert.not.ok(p.published)
    await until('published again', () => p.published)
    assert.equal(records.puts, [1n, 1n, 2n, 2n])
  } finally { await p.stop() }
})

test.run()
