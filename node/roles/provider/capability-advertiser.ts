// Provides this provider under its capability keys in the DHT (protocols/capabilities.ts),
// retrying until the DHT has peers to hold the provider records; kad-dht re-provides them.
import { capabilityCid, capabilityName, type Capability } from '../../../protocols/capabilities.js'
import { jitteredBackoff } from '../../runtime/backoff.js'
import type { Logger } from '../../log.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { Startable } from '@libp2p/interface'

/** Rounds failed in a row after which a failing provide is logged as a warning, not at debug. */
const STILL_FAILING_ROUNDS = 4
/** A provide's time limit doubles per failed round, up to 2^3 times the first (30 s → 240 s). */
const MAX_TIMEOUT_DOUBLINGS = 3

export interface CapabilityAdvertiserInit {
  /** The first round's time limit for one provide (the DHT walk plus the ADD_PROVIDER messages). */
  provideTimeoutMs?: number
  /** The first retry's delay; later ones back off to 8 times this. */
  retryMs?: number
}

export class CapabilityAdvertiser implements Startable {
  private timer?: NodeJS.Timeout
  private running = false
  private readonly done = new Set<string>()
  /** Consecutive rounds that left something unprovided: the retry backs off (2 s … 16 s) and the time limit grows. */
  private failedRounds = 0
  private readonly provideTimeoutMs: number
  private readonly retryMs: number

  constructor (private readonly c: { libp2p: KaisarLibp2p, logger: Logger }, private readonly capabilities: () => Capability[], init: CapabilityAdvertiserInit = {}) {
    this.provideTimeoutMs = init.provideTimeoutMs ?? 30_000
    this.retryMs = init.retryMs ?? 2_000
  }

  async start (): Promise<void> {
    this.running = true
    this.schedule(500)
  }

  async stop (): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
  }

  /** Capabilities not yet provided (e.g. after the first attempt found no DHT peers). */
  get outstanding (): number {
    return this.capabilities().filter(c => !this.done.has(capabilityName(c))).length
  }

  private schedule (ms: number): void {
    if (!this.running) return
    this.timer = setTimeout(() => { void this.provideAll() }, ms)
    this.timer.unref()
  }

  private async provideAll (): Promise<void> {
    // A DHT server ignores a provider record without addresses (kad-dht's ADD_PROVIDER handler
    // drops it silently), while our side still sees the message as sent. A relayed provider has
    // no address until a relay reserved a slot: wait for one, or the provide is lost.
    if (this.c.libp2p.getMultiaddrs().length === 0) { this.schedule(500); return }
    // A walk that ran out of time is retried with more of it, not restarted under the same limit:
    // on a saturated network (1,000 simulated nodes on two cores) a walk took longer than 30 s
    // every time, and two providers never got into the DHT.
    const timeoutMs = this.provideTimeoutMs * 2 ** Math.min(this.failedRounds, MAX_TIMEOUT_DOUBLINGS)
    for (const cap of this.capabilities()) {
      const name = capabilityName(cap)
      if (this.done.has(name) || !this.running) continue
      try {
        // Done only when some other peer holds the provider record: a provide that reached
        // nobody (right after start) would leave the provider unfindable until the reprovide.
        let held = 0
        for await (const event of this.c.libp2p.services.dht.provide(capabilityCid(cap), { signal: AbortSignal.timeout(timeoutMs) })) {
          if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') held++
        }
        if (held === 0) throw new Error('no peer took the provider record yet')
        this.done.add(name)
        this.c.logger.debug({ capability: name }, 'provided')
      } catch (err) {
        // The first failures are expected (a DHT still filling at start); a provider that stays
        // unfindable is not, and says why (simulator runs had a few providers never provided).
        const level = this.failedRounds >= STILL_FAILING_ROUNDS ? 'warn' : 'debug'
        this.c.logger[level]({ capability: name, err: (err as Error).message, failedRounds: this.failedRounds, timeoutMs }, 'provide failed, will retry')
      }
    }
    if (this.outstanding === 0) { this.failedRounds = 0; return }
    // Back off with jitter: when the DHT is slow (a busy network, or every provider of a
    // restarted fleet announcing at once), retrying every 2 s only adds to what makes it slow.
    this.schedule(jitteredBackoff(++this.failedRounds, this.retryMs, 8 * this.retryMs))
  }
}
