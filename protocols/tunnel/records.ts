// Sealed records: the byte format of a dedicated tunnel (protocols/tunnel/dedicated.ts), the
// spliced path's data plane once its Noise handshake is done. Each record is
//
//   [ length: uint16 BE ][ AES-256-GCM ciphertext of ≤ 65,519 bytes ][ 16-byte tag ]
//
// Noise's transport message shape (length = ciphertext + tag ≤ 65,535), under a key used for one
// direction of one tunnel, with a 96-bit nonce of 4 zero bytes and a 64-bit big-endian record
// counter starting at 0 (Noise's AESGCM nonce). A record with an empty plaintext is the close
// record: the sender has finished writing. A TCP FIN that comes without it is a truncation (a
// forwarder cut the stream), which the receiver must treat as a reset, not as a clean end.
//
// Why not @libp2p/noise's own framing: its decoder waits for a whole record before opening it,
// so the reads a record spans are kept and the socket's read buffers cannot be reused; here a
// record is opened while it arrives (`RecordOpener.push`) and the plaintext is held back until
// its tag has been checked, so nothing unauthenticated is ever released and every read buffer is
// free again as soon as `push` returns.
import crypto from 'node:crypto'

export const RECORD_TAG_BYTES = 16
export const RECORD_KEY_BYTES = 32
/** The largest plaintext one record carries (Noise's 65,535-byte message less its tag). */
export const RECORD_MAX_PLAINTEXT = 65_535 - RECORD_TAG_BYTES
/** Records per key before it must not be used again: far beyond any tunnel (2^48 × 64 KiB). */
const MAX_RECORDS = 2 ** 48

const CIPHER = 'aes-256-gcm'

/** A record that failed its tag, was malformed, or came after the close record. */
export class SealedRecordError extends Error {
  override name = 'SealedRecordError'
}

function nonceOf (counter: number, into: Buffer): Buffer {
  into.writeUInt32BE(Math.floor(counter / 2 ** 32), 4)
  into.writeUInt32BE(counter >>> 0, 8)
  return into
}

function checkKey (key: Uint8Array): Buffer {
  if (key.byteLength !== RECORD_KEY_BYTES) throw new SealedRecordError(`a record key is ${RECORD_KEY_BYTES} bytes, not ${key.byteLength}`)
  return Buffer.from(key)
}

/** Seals one direction's bytes into records. */
export class RecordSealer {
  private readonly key: Buffer
  private readonly nonce = Buffer.alloc(12)
  private counter = 0
  private closed = false

  constructor (key: Uint8Array) { this.key = checkKey(key) }

  /**
   * The records carrying `plaintext`, as the buffers to write in order (length, ciphertext, tag
   * per record; one writev under a cork). Empty input gives no record: an empty record means close.
   */
  seal (plaintext: Uint8Array, out: Uint8Array[] = []): Uint8Array[] {
    if (this.closed) throw new SealedRecordError('sealed after the close record')
    for (let off = 0; off < plaintext.byteLength; off += RECORD_MAX_PLAINTEXT) {
      this.sealOne(plaintext.subarray(off, Math.min(plaintext.byteLength, off + RECORD_MAX_PLAINTEXT)), out)
    }
    return out
  }

  /** The close record; nothing may be sealed after it. */
  close (out: Uint8Array[] = []): Uint8Array[] {
    if (this.closed) throw new SealedRecordError('closed twice')
    this.sealOne(new Uint8Array(0), out)
    this.closed = true
    return out
  }

  private sealOne (piece: Uint8Array, out: Uint8Array[]): void {
    if (this.counter >= MAX_RECORDS) throw new SealedRecordError('record counter exhausted')
    const cipher = crypto.createCipheriv(CIPHER, this.key, nonceOf(this.counter++, this.nonce), { authTagLength: RECORD_TAG_BYTES })
    const length = Buffer.allocUnsafe(2)
    length.writeUInt16BE(piece.byteLength + RECORD_TAG_BYTES)
    out.push(length)
    if (piece.byteLength > 0) out.push(cipher.update(piece))
    cipher.final()
    out.push(cipher.getAuthTag())
  }
}

/**
 * Opens the records of one direction as their bytes arrive, in reads of any size and split
 * anywhere. Each record's plaintext is passed on only after its tag checked out.
 */
export class RecordOpener {
  private readonly key: Buffer
  private readonly nonce = Buffer.alloc(12)
  private counter = 0
  /** The length's first byte while the second has not come yet. */
  private lengthHigh = -1
  /** Ciphertext bytes of the current record still to come; -1 while reading a length. */
  private bodyLeft = -1
  private readonly tag = Buffer.alloc(RECORD_TAG_BYTES)
  /** Tag bytes of the current record read so far (the body is complete when this counts). */
  private tagRead = 0
  private decipher?: crypto.DecipherGCM
  private plaintext: Buffer[] = []
  private failed = false
  /** Set once the close record has been opened. */
  ended = false

  /**
   * @param onPlaintext the plaintext of each record, once authenticated (one or more buffers the
   *   opener gives away: the caller may keep them)
   * @param onClose the close record arrived: the sender has finished
   */
  constructor (key: Uint8Array, private readonly onPlaintext: (chunks: Buffer[]) => void, private readonly onClose: () => void) {
    this.key = checkKey(key)
  }

  /** True between records: a stream that ends here (after the close record) ended cleanly. */
  get atBoundary (): boolean { return this.bodyLeft < 0 && this.lengthHigh < 0 }

  /**
   * Feeds received bytes. Throws SealedRecordError on a forged, reordered or malformed record
   * (and every later call throws too). `bytes` is not kept: its memory may be reused once this returns.
   */
  push (bytes: Uint8Array): void {
    if (this.failed) throw new SealedRecordError('the stream already failed')
    try {
      this.consume(bytes)
    } catch (err) {
      this.failed = true
      this.decipher = undefined
      this.plaintext = []
      throw err instanceof SealedRecordError ? err : new SealedRecordError((err as Error).message)
    }
  }

  private consume (bytes: Uint8Array): void {
    let off = 0
    while (off < bytes.byteLength) {
      if (this.ended) throw new SealedRecordError('bytes after the close record')
      if (this.bodyLeft < 0) {
        const byte = bytes[off++] as number
        if (this.lengthHigh < 0) { this.lengthHigh = byte; continue }
        const length = this.lengthHigh * 256 + byte
        this.lengthHigh = -1
        if (length < RECORD_TAG_BYTES) throw new SealedRecordError(`a record of ${length} bytes is shorter than its tag`)
        if (this.counter >= MAX_RECORDS) throw new SealedRecordError('record counter exhausted')
        this.bodyLeft = length - RECORD_TAG_BYTES
        this.tagRead = 0
        this.decipher = crypto.createDecipheriv(CIPHER, this.key, nonceOf(this.counter++, this.nonce), { authTagLength: RECORD_TAG_BYTES })
        continue
      }
      const decipher = this.decipher as crypto.DecipherGCM
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, bytes.byteLength - off)
        // update() writes into a new buffer: the plaintext does not alias `bytes`.
        this.plaintext.push(decipher.update(bytes.subarray(off, off + take)))
        off += take
        this.bodyLeft -= take
        continue
      }
      const take = Math.min(RECORD_TAG_BYTES - this.tagRead, bytes.byteLength - off)
      this.tag.set(bytes.subarray(off, off + take), this.tagRead)
      off += take
      this.tagRead += take
      if (this.tagRead < RECORD_TAG_BYTES) continue
      decipher.setAuthTag(this.tag)
      try {
        decipher.final()
      } catch {
        throw new SealedRecordError('a record failed its authentication tag')
      }
      const plaintext = this.plaintext
      this.plaintext = []
      this.decipher = undefined
      this.bodyLeft = -1
      const empty = plaintext.every(p => p.byteLength === 0)
      if (empty) {
        this.ended = true
        this.onClose()
      } else {
        this.onPlaintext(plaintext)
      }
    }
  }
}
