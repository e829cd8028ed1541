// Sealed records (protocols/tunnel/records.ts): what a dedicated tunnel's bytes are on the wire.
// The opener must give back exactly what was sealed however the bytes are split, release nothing
// of a record whose tag fails, and refuse records that were reordered, malformed, or came after
// the close record.
import { randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RecordOpener, RecordSealer, RECORD_MAX_PLAINTEXT, RECORD_TAG_BYTES, SealedRecordError } from '../../protocols/tunnel/records.js'

const KEY = randomBytes(32)
const sealedError = (err: Error): boolean => err instanceof SealedRecordError

function opener (key = KEY): { open: RecordOpener, got: Buffer[], closes: number[] } {
  const got: Buffer[] = []
  const closes: number[] = []
  const open = new RecordOpener(key, chunks => { got.push(...chunks) }, () => { closes.push(got.length) })
  return { open, got, closes }
}

/** The records as one buffer, and where each record starts. */
function wire (parts: Uint8Array[]): Buffer { return Buffer.concat(parts) }

test('what is sealed opens to the same bytes, however the wire splits it', () => {
  const sealer = new RecordSealer(KEY)
  const plaintexts = [randomBytes(1), randomBytes(RECORD_MAX_PLAINTEXT), randomBytes(RECORD_MAX_PLAINTEXT + 1), randomBytes(300_000)]
  const bytes = wire([...plaintexts.flatMap(p => sealer.seal(p)), ...sealer.close()])
  // 1 + 1 + 2 + 5 records of data, and the close record.
  assert.is(bytes.byteLength, plaintexts.reduce((n, p) => n + p.byteLength, 0) + 10 * (2 + RECORD_TAG_BYTES))
  for (const step of [1, 2, 17, 65_537, bytes.byteLength]) {
    const { open, got, closes } = opener()
    for (let off = 0; off < bytes.byteLength; off += step) open.push(bytes.subarray(off, off + step))
    assert.ok(Buffer.concat(got).equals(Buffer.concat(plaintexts)), `split every ${step} bytes`)
    assert.equal(closes, [got.length], 'the close record came last, once')
    assert.ok(open.ended && open.atBoundary)
  }
})

test('the opener keeps nothing it was given: a read buffer reused after push does not change the output', () => {
  const sealer = new RecordSealer(KEY)
  const plaintext = randomBytes(200_000)
  const bytes = wire(sealer.seal(plaintext))
  const { open, got } = opener()
  const scratch = Buffer.alloc(4096)
  for (let off = 0; off < bytes.byteLength; off += scratch.byteLength) {
    const n = bytes.copy(scratch, 0, off, off + scratch.byteLength)
    open.push(scratch.subarray(0, n))
    scratch.fill(0xee) // what a reused read buffer does to bytes the opener might have kept
  }
  assert.ok(Buffer.concat(got).equals(plaintext))
})

test('a flipped byte in the body or the tag fails the record, releases none of it, and fails the stream', () => {
  for (const where of ['body', 'tag'] as const) {
    const sealer = new RecordSealer(KEY)
    const first = randomBytes(1000)
    const bytes = wire([...sealer.seal(first), ...sealer.seal(randomBytes(50_000))])
    const second = 2 + 1000 + RECORD_TAG_BYTES
    const flip = where === 'body' ? second + 2 + 30_000 : bytes.byteLength - 3
    bytes[flip] = (bytes[flip] as number) ^ 0x01
    const { open, got } = opener()
    // Delivered in small pieces, so the opener has decrypted most of the forged record before its tag.
    assert.throws(() => { for (let off = 0; off < bytes.byteLength; off += 4096) open.push(bytes.subarray(off, off + 4096)) }, (err: Error) => err instanceof SealedRecordError && /authentication tag/.test(err.message))
    assert.ok(Buffer.concat(got).equals(first), `only the first, genuine record was released (${where})`)
    assert.throws(() => { open.push(Buffer.alloc(1)) }, sealedError)
  }
})

test('records out of order, under another key, too short or after the close record are refused', () => {
  const sealer = new RecordSealer(KEY)
  const a = wire(sealer.seal(Buffer.from('first')))
  const b = wire(sealer.seal(Buffer.from('second')))
  assert.throws(() => { opener().open.push(b) }, sealedError, 'the second record first (its nonce is not the first)')
  assert.throws(() => { opener(randomBytes(32)).open.push(a) }, sealedError, 'another key')
  assert.throws(() => { opener().open.push(Buffer.from([0, RECORD_TAG_BYTES - 1])) }, /shorter than its tag/)
  const closed = opener()
  closed.open.push(wire([...new RecordSealer(KEY).close()]))
  assert.ok(closed.open.ended)
  assert.throws(() => { closed.open.push(a) }, /after the close record/)
  assert.throws(() => new RecordSealer(randomBytes(16)), /32 bytes/)
  const sealed = new RecordSealer(KEY)
  sealed.close()
  assert.throws(() => sealed.seal(Buffer.from('x')), /after the close record/)
})

test('the same plaintext sealed twice gives different records (the nonce counts records)', () => {
  const sealer = new RecordSealer(KEY)
  const x = Buffer.alloc(64, 7)
  assert.not.ok(wire(sealer.seal(x)).equals(wire(sealer.seal(x))))
  assert.equal(sealer.seal(Buffer.alloc(0)), [], 'no record for no bytes: an empty record means close')
})

test.run()
