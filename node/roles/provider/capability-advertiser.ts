// Provides this provider under its capability keys in the DHT (protocols/capabilities.ts),
// retrying until the DHT has peers to hold the provider records, and again each time the DHT it
// knows has doubled since (kad-dht itself re-provides only after 24 h).
//
// Why the doubling: a provide puts the record on the k peers closest to the key *among those the
// walk could find then*. A provider that joined a young network put it on early peers; once the
// network grew, lookups walk to the new closest peers, which never got it, and the provider is
// unfindable under that key (the simulator's 300-node runs: an order for region BR failed "no
// provider matches" in several runs, all lookups coming back empty for its whole 10 s). The
// routing table's size stands in for the network's: a provider re-provides at most log2(N) times
// while a network of N grows, and never in a network that has stopped growing.
import { capabilityCid, capabilityName, type Capability } from '../../../protocols/capabilities.js'
import { jitteredBackoff } from '../../runtime/backoff.js'
import type { Logger } from '../../log.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { Startable } from '@libp2p/interface'

/** Rounds failed in a row after which a failing provide is logged as a warning, not at debug. */
const STILL_FAILING_ROUNDS = 4
/** A provide's time limit doubles per failed round, up to 2^3 times the first (30 s → 240 s). */
const MAX_TIMEOUT_DOUBLINGS = 3
/** Growth of the routing table, besides doubling, before a re-provide: a few peers more is noise. */
const MIN_TABLE_GROWTH = 10

export interface CapabilityAdvertiserInit {
  /** The first round's time limit for one provide (the DHT walk plus the ADD_PROVIDER messages). */
  provideTimeoutMs?: number
  /** The first retry's delay; later ones back off to 8 times this. */
  retryMs?: number
  /** How often the routing table's growth is checked once everything is provided (default 60 s). */
  growthCheckMs?: number
}

/** The size of kad-dht's routing table (not in its public interface); undefined where it cannot be read. */
function routingTableSize (libp2p: KaisarLibp2p): number | undefined {
  const size = (libp2p.services.dht as unknown as { routingTable?: { size?: unknown } }).routingTable?.size
  return typeof size === 'number' ? size : undefined
}

export class CapabilityAdvertiser implements Startable {
  private timer?: NodeJS.Timeout
  private running = false
  private readonly done = new Set<string>()
  /** Consecutive rounds that left something unprovided: the retry backs off (2 s … 16 s) and the time limit grows. */
  private failedRounds = 0
  private readonly provideTimeoutMs: number
  private readonly retryMs: number
  private readonly growthCheckMs: number
  /** The routing table's size when everything was last provided. */
  private providedAtTableSize = 0
  /** Times everything was provided again because the DHT had grown (metrics, tests). */
  reprovides = 0

  constructor (private readonly c: { libp2p: KaisarLibp2p, logger: Logger }, private readonly capabilities: () => Capability[], init: CapabilityAdvertiserInit = {}) {
    this.provideTimeoutMs = init.provideTimeoutMs ?? 30_000
    this.retryMs = init.retryMs ?? 2_000
    this.growthCheckMs = init.growthCheckMs ?? 60_000
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

  private schedule (ms: number, run: () => void = () => { void this.provideAll() }): void {
    if (!this.running) return
    this.timer = setTimeout(run, ms)
    this.timer.unref()
  }

  /** Everything provided: re-provide once the routing table has doubled since. */
  private watchGrowth (): void {
    this.providedAtTableSize = routingTableSize(this.c.libp2p) ?? 0
    const check = (): void => {
      const size = routingTableSize(this.c.libp2p)
      if (size == null) return // no table to watch: kad-dht's own re-provide is all there is
      if (size >= 2 * this.providedAtTableSize && size >= this.providedAtTableSize + MIN_TABLE_GROWTH) {
        this.c.logger.debug({ was: this.providedAtTableSize, now: size }, 'the DHT has doubled since the last provide: providing again')
        this.reprovides++
        this.done.clear()
        void this.provideAll()
        return
      }
      this.schedule(this.growthCheckMs, check)
    }
    this.schedule(this.growthCheckMs, check)
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
    if (this.outstanding === 0) { this.failedRounds = 0; this.watchGrowth(); return }
    // Back off with jitter: when the DHT is slow (a busy network, or every provider of a
    // restarted fleet announcing at once), retrying every 2 s only adds to what makes it slow.
    this.schedule(jitteredBackoff(++this.failedRounds, this.retryMs, 8 * this.retryMs))
  }
}
