// Wallet-signed API requests. Anything on a public API that changes state or spends money
// must be signed by the acting wallet (sr25519 or ed25519, Substrate-style addresses):
//   x-kaisar-address:   SS58 address of the wallet
//   x-kaisar-timestamp: ms since epoch (within ±MAX_SKEW_MS of the server's clock)
//   x-kaisar-signature: 0x-hex signature over requestSigningPayload(...)
// A signature is accepted once: replays inside the time window are refused.
import { createHash } from 'node:crypto'
import { signatureVerify } from '@polkadot/util-crypto'
import { u8aToHex } from '@polkadot/util'
import type { KeyringPair } from '@polkadot/keyring/types'

export const AUTH_HEADERS = { address: 'x-kaisar-address', timestamp: 'x-kaisar-timestamp', signature: 'x-kaisar-signature' } as const
export const MAX_SKEW_MS = 60_000

export function requestSigningPayload (method: string, path: string, timestamp: number, body: Uint8Array): string {
  const bodyHash = createHash('sha256').update(body).digest('hex')
  return `kaisar-api/1\n${method.toUpperCase()}\n${path}\n${timestamp}\n${bodyHash}`
}

/** Headers that sign a request as `wallet` (used by the CLI and the Console). */
export function signRequest (wallet: KeyringPair, method: string, path: string, body: Uint8Array = new Uint8Array(0), timestamp = Date.now()): Record<string, string> {
  const signature = wallet.sign(requestSigningPayload(method, path, timestamp, body))
  return { [AUTH_HEADERS.address]: wallet.address, [AUTH_HEADERS.timestamp]: String(timestamp), [AUTH_HEADERS.signature]: u8aToHex(signature) }
}

export type AuthResult = { ok: true, address: string } | { ok: false, reason: 'missing' | 'bad-timestamp' | 'expired' | 'bad-signature' | 'replayed' }

export class RequestVerifier {
  /** signature → expiry (ms); bounded by the time window, so it cannot grow without limit. */
  private readonly seen = new Map<string, number>()
  private readonly now: () => number

  constructor (now: () => number = Date.now) {
    this.now = now
  }

  verify (method: string, path: string, headers: Record<string, string | string[] | undefined>, body: Uint8Array): AuthResult {
    const address = headers[AUTH_HEADERS.address]
    const ts = headers[AUTH_HEADERS.timestamp]
    const signature = headers[AUTH_HEADERS.signature]
    if (typeof address !== 'string' || typeof ts !== 'string' || typeof signature !== 'string') return { ok: false, reason: 'missing' }
    if (!/^\d{1,16}$/.test(ts)) return { ok: false, reason: 'bad-timestamp' }
    const timestamp = Number(ts)
    const now = this.now()
    if (Math.abs(now - timestamp) > MAX_SKEW_MS) return { ok: false, reason: 'expired' }
    let valid = false
    try {
      valid = signatureVerify(requestSigningPayload(method, path, timestamp, body), signature, address).isValid
    } catch {
      valid = false
    }
    if (!valid) return { ok: false, reason: 'bad-signature' }
    this.prune(now)
    if (this.seen.has(signature)) return { ok: false, reason: 'replayed' }
    this.seen.set(signature, timestamp + MAX_SKEW_MS)
    return { ok: true, address }
  }

  private prune (now: number): void {
    for (const [sig, expiry] of this.seen) if (expiry < now) this.seen.delete(sig)
  }
}
