// Keeps a node's connections below its cap by closing idle ones, the way go-libp2p's connection
// manager does (high and low water marks, a grace period for new connections).
//
// Why a node needs it: js-libp2p refuses every inbound connection once `maxConnections` is
// reached, and it prunes only when an outbound dial takes the node over the cap. Nothing ever
// closes an idle connection: Yamux's keep-alive holds open every connection a peer once made.
// So a DHT server slowly fills with connections from clients that asked it one question, and
// once full it refuses the clients that have a question now (sim/README.md, stop 18).
//
// "Idle" means no stream but ambient ones. Gossipsub opens a stream to every peer that speaks
// it, whether or not they share a topic, and keeps it for the connection's life; identify,
// AutoNAT and DCUtR streams are the ones libp2p's own pruner closes anyway. Any other stream (a
// DHT request, a tunnel, a relay reservation, a request in progress) makes a connection busy.
// Peers gossipsub meshes with carry its tags (100 per topic), so they go last; peers tagged
// keep-alive (kad-dht's closest peers, relay reservations, bootstrap peers) are never trimmed,
// since libp2p would dial them again at once.
import { KEEP_ALIVE } from '@libp2p/interface'
import type { ComponentLogger, Connection, Counter, Libp2pEvents, Logger, Metrics, PeerId, Startable, TypedEventTarget } from '@libp2p/interface'

export interface ConnectionTrimmerComponents {
  connectionManager: { getConnections: () => Connection[], getMaxConnections: () => number }
  peerStore: { get: (peer: PeerId) => Promise<{ tags: Map<string, { value: number }> }> }
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
  metrics?: Metrics
}

export interface ConnectionTrimmerInit {
  /** Trim once this share of `maxConnections` is open (default 0.9). */
  highWater?: number
  /** ... down to this share (default 0.75). */
  lowWater?: number
  /** A connection younger than this is never trimmed: it is about to be used (default 30 s). */
  gracePeriodMs?: number
  /** How often the count is checked besides on every new connection (default 10 s). */
  intervalMs?: number
}

/** Protocols whose streams stay open on a connection that is not otherwise used. */
const AMBIENT_PROTOCOL_PREFIXES = ['/meshsub/', '/floodsub/', '/ipfs/id/', '/libp2p/autonat/', '/libp2p/dcutr']

/** True when every open stream of the connection is an ambient one (see above). */
export function isIdle (conn: Connection): boolean {
  return conn.streams.every(s => s.protocol != null && AMBIENT_PROTOCOL_PREFIXES.some(p => s.protocol?.startsWith(p) === true))
}

export const TRIMMER_DEFAULTS = { highWater: 0.9, lowWater: 0.75, gracePeriodMs: 30_000, intervalMs: 10_000 }

export class ConnectionTrimmer implements Startable {
  private readonly log: Logger
  private readonly settings: Required<ConnectionTrimmerInit>
  private timer?: ReturnType<typeof setInterval>
  private running?: Promise<number>
  /** A check already queued for this turn of the loop (see onConnectionOpen). */
  private checkQueued = false
  /** Connections closed by this trimmer (also `libp2p_connection_trimmer_closed_total` where the node has metrics). */
  trimmed = 0
  private readonly closedCounter?: Counter

  constructor (private readonly components: ConnectionTrimmerComponents, init: ConnectionTrimmerInit = {}) {
    this.log = components.logger.forComponent('kaisar:connection-trimmer')
    this.settings = { ...TRIMMER_DEFAULTS, ...init }
    if (!(this.settings.lowWater > 0 && this.settings.lowWater < this.settings.highWater && this.settings.highWater <= 1)) {
      throw new RangeError(`connection trimmer: need 0 < lowWater < highWater <= 1, got ${this.settings.lowWater} and ${this.settings.highWater}`)
    }
    this.onConnectionOpen = this.onConnectionOpen.bind(this)
    this.closedCounter = components.metrics?.registerCounter('libp2p_connection_trimmer_closed_total', { help: 'Idle connections closed to stay below the connection cap' })
  }

  readonly [Symbol.toStringTag] = 'kaisar/connection-trimmer'

  start (): void {
    this.components.events.addEventListener('connection:open', this.onConnectionOpen)
    this.timer = setInterval(() => { this.maybeTrim() }, this.settings.intervalMs)
    this.timer.unref?.()
  }

  stop (): void {
    this.components.events.removeEventListener('connection:open', this.onConnectionOpen)
    clearInterval(this.timer)
    this.timer = undefined
  }

  /**
   * Checks once per turn of the event loop, not once per connection: counting connections walks
   * every peer's list, and a node that opens dozens in a turn (start-up, a DHT walk) paid that
   * walk for each (2 % of a 500-node simulator process's CPU, sim/README.md stop 30).
   */
  private onConnectionOpen (): void {
    if (this.checkQueued) return
    this.checkQueued = true
    setImmediate(() => {
      this.checkQueued = false
      if (this.timer != null) this.maybeTrim() // not stopped meanwhile
    })
  }

  private maybeTrim (): void {
    if (this.running != null) return
    if (this.components.connectionManager.getConnections().length < this.highWaterCount()) return
    this.running = this.trim()
      .catch(err => { this.log.error('trimming connections failed - %e', err); return 0 })
      .finally(() => { this.running = undefined })
  }

  private highWaterCount (): number {
    return Math.floor(this.components.connectionManager.getMaxConnections() * this.settings.highWater)
  }

  /** Close idle connections, least valued and oldest first, until at most the low water mark is open. Returns how many it closed. */
  async trim (now = Date.now()): Promise<number> {
    const connections = this.components.connectionManager.getConnections()
    const target = Math.floor(this.components.connectionManager.getMaxConnections() * this.settings.lowWater)
    const excess = connections.length - target
    if (excess <= 0) return 0
    const candidates: Array<{ conn: Connection, value: number }> = []
    for (const conn of connections) {
      if (conn.status !== 'open' || !isIdle(conn) || now - conn.timeline.open < this.settings.gracePeriodMs) continue
      const value = await this.peerValue(conn.remotePeer)
      if (value != null) candidates.push({ conn, value })
    }
    candidates.sort((a, b) => a.value - b.value || a.conn.timeline.open - b.conn.timeline.open)
    let closed = 0
    await Promise.all(candidates.slice(0, excess).map(async ({ conn }) => {
      // A stream may have opened since the scan; leave the connection then.
      if (!isIdle(conn)) return
      closed++
      this.trimmed++
      this.closedCounter?.increment()
      try {
        await conn.close({ signal: AbortSignal.timeout(1_000) })
      } catch (err) {
        conn.abort(err as Error)
      }
    }))
    this.log('trimmed %d of %d connections (low water %d)', closed, connections.length, target)
    return closed
  }

  /** Sum of the peer's tag values, or undefined when it is tagged keep-alive (never trimmed). */
  private async peerValue (peer: PeerId): Promise<number | undefined> {
    let tags: Map<string, { value: number }>
    try {
      tags = (await this.components.peerStore.get(peer)).tags
    } catch {
      return 0
    }
    let value = 0
    for (const [name, tag] of tags) {
      if (name.startsWith(KEEP_ALIVE)) return undefined
      value += tag.value
    }
    return value
  }
}

export function connectionTrimmer (init: ConnectionTrimmerInit = {}): (components: ConnectionTrimmerComponents) => ConnectionTrimmer {
  return (components) => new ConnectionTrimmer(components, init)
}
