// The `bare` path of the tunnel bench: what three JS forwarders cost when they do nothing but the
// tunnel's unavoidable work, as a yardstick for the product's spliced path (same shape: user end →
// gateway copy → provider end → target). Run as three processes by bench/tunnel.ts:
//   end --plain accepted --next HOST:PORT   the user's end: bytes from the application are sealed
//   copy --next HOST:PORT                    the gateway: the product's own splice copy, both ways
//   end --plain next --next HOST:PORT       the provider's end: opens records, plaintext to the target
// Each end seals every ≤ 65,519-byte read as one AES-256-GCM record behind a 2-byte length, as
// Noise does (a new cipher object per record, as @libp2p/noise makes them), and opens records only
// once the whole record and its tag have arrived, without concatenating the reads it spans.
// No handshake (a fixed key), no multiplexing, no libp2p: not a protocol, a floor to measure against.
// Prints {"port"} on stdout when ready; exits when stdin closes.
import crypto from 'node:crypto'
import net from 'node:net'
import { flagValue } from './args.js'
import { parseHostPort } from '../node/config/schema.js'
import { spliceCopy } from '../node/roles/gateway/splice-copy.js'
import { TUNNEL_SOCKET_OPTIONS } from '../node/network/tunnel-pipe.js'

const KEY = Buffer.alloc(32, 0x42)
const TAG = 16
const MAX_PLAIN = 65_535 - TAG

/** A 96-bit GCM nonce from a per-direction record counter. */
function nonce (counter: number): Buffer {
  const iv = Buffer.alloc(12)
  iv.writeUInt32BE(Math.floor(counter / 2 ** 32), 4)
  iv.writeUInt32BE(counter >>> 0, 8)
  return iv
}

/** Writes what `from` sends to `to` as records; ends `to` when `from` ends. */
export function seal (from: net.Socket, to: net.Socket): void {
  let counter = 0
  from.on('data', (data: Buffer) => {
    let ok = true
    to.cork()
    for (let off = 0; off < data.byteLength; off += MAX_PLAIN) {
      const piece = data.subarray(off, Math.min(data.byteLength, off + MAX_PLAIN))
      const cipher = crypto.createCipheriv('aes-256-gcm', KEY, nonce(counter++))
      const body = cipher.update(piece)
      cipher.final()
      const header = Buffer.allocUnsafe(2)
      header.writeUInt16BE(body.byteLength + TAG)
      to.write(header)
      to.write(body)
      ok = to.write(cipher.getAuthTag())
    }
    to.uncork()
    if (!ok) { from.pause(); to.once('drain', () => from.resume()) }
  })
  from.on('end', () => { to.end() })
}

/** The last `n` bytes of `parts` (a copy of 16 bytes, wherever the reads split them). */
function lastBytes (parts: Buffer[], n: number): Buffer {
  const out = Buffer.alloc(n)
  let at = n
  for (let i = parts.length - 1; i >= 0 && at > 0; i--) {
    const p = parts[i] as Buffer
    const take = Math.min(at, p.byteLength)
    p.copy(out, at - take, p.byteLength - take)
    at -= take
  }
  return out
}

/** Writes the plaintext of the records `from` sends to `to`; a record that fails its tag closes both. */
export function open (from: net.Socket, to: net.Socket): void {
  let counter = 0
  let high = -1 // the length's first byte, once read
  let need = -1 // bytes of the current record still to come; -1 while reading its length
  let parts: Buffer[] = []
  const finish = (): void => {
    const all = parts
    parts = []
    const length = all.reduce((n, p) => n + p.byteLength, 0)
    if (length < TAG) throw new Error('record shorter than its tag')
    const decipher = crypto.createDecipheriv('aes-256-gcm', KEY, nonce(counter++))
    decipher.setAuthTag(lastBytes(all, TAG))
    let left = length - TAG
    const out: Buffer[] = []
    for (const p of all) {
      if (left <= 0) break
      const use = p.byteLength <= left ? p : p.subarray(0, left)
      left -= use.byteLength
      out.push(decipher.update(use))
    }
    decipher.final() // throws on a forged or corrupted record, before anything is written
    let ok = true
    to.cork()
    for (const o of out) ok = to.write(o)
    to.uncork()
    if (!ok && !from.isPaused()) { from.pause(); to.once('drain', () => from.resume()) }
  }
  from.on('data', (data: Buffer) => {
    try {
      let off = 0
      while (off < data.byteLength) {
        if (need < 0) {
          // The 2-byte length, a byte at a time: it may be split between two reads.
          const byte = data[off++] as number
          if (high < 0) high = byte
          else { need = high * 256 + byte; high = -1 }
          continue
        }
        const take = Math.min(need, data.byteLength - off)
        parts.push(data.subarray(off, off + take))
        off += take
        need -= take
        if (need === 0) { need = -1; finish() }
      }
    } catch (err) {
      from.destroy(err as Error)
      to.destroy(err as Error)
    }
  })
  from.on('end', () => { to.end() })
}

/** A socket that fails takes the other with it (a clean end passes through as a half-close instead). */
function linkFates (a: net.Socket, b: net.Socket): void {
  const fail = (): void => { a.destroy(); b.destroy() }
  for (const s of [a, b]) { s.on('error', fail); s.on('close', hadError => { if (hadError) fail() }) }
}

/**
 * A tunnel end between the socket it accepted and the one it opened onward: the side named by
 * `plain` carries plaintext (the application's on the user's end, the target's on the provider's).
 */
export function joinEnd (accepted: net.Socket, onward: net.Socket, plain: 'accepted' | 'next'): void {
  linkFates(accepted, onward)
  const [plainSide, cipherSide] = plain === 'accepted' ? [accepted, onward] : [onward, accepted]
  seal(plainSide, cipherSide)
  open(cipherSide, plainSide)
}

if (process.argv[1]?.endsWith('tunnel-bare.js') === true) {
  const [role, ...rest] = process.argv.slice(2)
  const next = parseHostPort(flagValue(rest, '--next') ?? '')
  const plain = flagValue(rest, '--plain')
  if (next == null || (role !== 'copy' && !(role === 'end' && (plain === 'accepted' || plain === 'next')))) {
    throw new Error('usage: tunnel-bare.js end --plain accepted|next --next HOST:PORT | copy --next HOST:PORT')
  }
  const server = net.createServer(TUNNEL_SOCKET_OPTIONS, accepted => {
    const onward = net.connect({ ...TUNNEL_SOCKET_OPTIONS, ...next })
    if (role === 'end') { joinEnd(accepted, onward, plain as 'accepted' | 'next'); return }
    linkFates(accepted, onward)
    accepted.pause()
    onward.once('connect', () => { spliceCopy(accepted, onward); spliceCopy(onward, accepted) })
  })
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as net.AddressInfo).port }) + '\n')
  })
  process.stdin.resume()
  process.stdin.on('end', () => { process.exit(0) })
}
