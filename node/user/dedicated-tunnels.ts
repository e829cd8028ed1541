// Dedicated tunnels for one forwarded port of `connect`, with a spare kept handshaken ahead of use.
//
// Why a spare: a dedicated tunnel (protocols/tunnel/dedicated.ts) costs a splice (the user asks the
// gateway, the gateway asks the provider, the provider connects back) and a Noise handshake
// before its first byte: ≈ 8 ms on loopback and several round trips across a network, against
// one round trip for a stream of a shared connection (bench/TUNNEL.md, stop 26). With one tunnel
// always handshaken and waiting, a new connection only sends its header and reads the reply.
// The spare is replaced before the provider stops waiting for its header, and whenever it is
// taken; so an idle `connect` makes one splice a minute, and a burst of connections opens the
// rest in parallel as before.
import { TunnelRefusedError } from '../errors.js'
import { DEDICATED_HEADER_WAIT_MS } from '../../protocols/tunnel/dedicated.js'
import type { DialedTunnel, HandshakenTunnel } from '../network/splice/dedicated-tunnel.js'
import type { AbortOptions } from '@libp2p/interface'

/** A spare older than this is replaced (the provider waits DEDICATED_HEADER_WAIT_MS for a header). */
export const SPARE_MAX_AGE_MS = DEDICATED_HEADER_WAIT_MS - 10_000

export class DedicatedTunnels {
  private spare?: { tunnel: Promise<HandshakenTunnel | undefined>, timer: NodeJS.Timeout }
  private closed = false

  /**
   * @param prepare a splice and handshake to the provider (SpliceService.prepareDedicatedTunnel);
   *   undefined when the provider is not behind a gateway that splices for us
   */
  constructor (private readonly prepare: () => Promise<HandshakenTunnel | undefined>, private readonly maxAgeMs = SPARE_MAX_AGE_MS) {}

  /** Starts the first spare. */
  start (): void { this.refill() }

  /**
   * A dedicated tunnel to `port` of the lease `token` opens: the spare's, when it is ready and
   * still open, else a new one; undefined when none can be made (the caller uses a stream).
   * A provider's refusal is thrown (TunnelRefusedError).
   */
  async open (token: string, port: number, options: AbortOptions = {}): Promise<DialedTunnel | undefined> {
    const taken = await this.take()
    if (taken == null) return undefined
    try {
      return await taken.open(token, port, options)
    } catch (err) {
      // A spare the gateway or the provider closed just now: once more with a new one.
      if (err instanceof TunnelRefusedError || options.signal?.aborted === true) throw err
      return await (await this.prepare())?.open(token, port, options)
    }
  }

  /** Closes the spare; no new one is made. */
  close (): void {
    this.closed = true
    const spare = this.spare
    this.spare = undefined
    if (spare != null) this.discard(spare)
  }

  private async take (): Promise<HandshakenTunnel | undefined> {
    const spare = this.spare
    this.spare = undefined
    if (spare != null) clearTimeout(spare.timer)
    this.refill()
    const tunnel = spare != null ? await spare.tunnel : undefined
    if (tunnel?.usable === true) return tunnel
    tunnel?.close()
    return await this.prepare()
  }

  private refill (): void {
    if (this.closed) return
    const tunnel = this.prepare().catch(() => undefined)
    const timer = setTimeout(() => {
      if (this.spare?.tunnel !== tunnel) return
      this.discard(this.spare)
      this.spare = undefined
      this.refill()
    }, this.maxAgeMs)
    timer.unref()
    this.spare = { tunnel, timer }
  }

  private discard (spare: { tunnel: Promise<HandshakenTunnel | undefined>, timer: NodeJS.Timeout }): void {
    clearTimeout(spare.timer)
    void spare.tunnel.then(t => { t?.close() })
  }
}
