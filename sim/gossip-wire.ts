// Heartbeat gossip events from a shard worker to the runner (sim/shard.ts), in a compact form:
// each peer id crosses the channel once per run, then every event is five numbers. A receipt
// used to cross as an object with two 52-character peer ids (≈ 150 bytes); now it is 40. That
// matters because a saturated worker writes its IPC channel only once per event-loop turn, a
// socket buffer's worth at a time: at 1,000 nodes its turns took seconds, the receipts arrived
// faster than the channel carried them, and every reply to the runner queued behind them.
import type { GossipSink } from './metrics.js'

/** One batch: the peer ids first seen since the previous batch, then FIELDS numbers per event. */
export interface GossipBatch { peers: string[], events: Float64Array }

const PUB = 0
const RECV = 1
const SUB = 2
const UNSUB = 3
/** kind, peer (publisher or subscriber), sequence, subscriber, time (ms since the epoch). */
const FIELDS = 5

/** The worker's side: collects events into the next batch. */
export class GossipBatchWriter implements GossipSink {
  private readonly index = new Map<string, number>()
  private newPeers: string[] = []
  private events: number[] = []

  published (publisher: string, sequence: bigint | number, at: number): void { this.push(PUB, this.peer(publisher), Number(sequence), 0, at) }
  received (publisher: string, sequence: bigint | number, subscriber: string, at: number): void { this.push(RECV, this.peer(publisher), Number(sequence), this.peer(subscriber), at) }
  subscribed (peer: string, at: number): void { this.push(SUB, this.peer(peer), 0, 0, at) }
  unsubscribed (peer: string, at: number): void { this.push(UNSUB, this.peer(peer), 0, 0, at) }

  /** The events collected since the last call, or nothing when there are none. */
  take (): GossipBatch | undefined {
    if (this.events.length === 0) return undefined
    const batch = { peers: this.newPeers, events: Float64Array.from(this.events) }
    this.newPeers = []
    this.events = []
    return batch
  }

  private peer (id: string): number {
    let i = this.index.get(id)
    if (i == null) {
      i = this.index.size
      this.index.set(id, i)
      this.newPeers.push(id)
    }
    return i
  }

  private push (kind: number, peer: number, sequence: number, subscriber: number, at: number): void {
    this.events.push(kind, peer, sequence, subscriber, at)
  }
}

/** The runner's side: replays one worker's batches, in the order they were taken, into a sink. */
export class GossipBatchReader {
  private readonly peers: string[] = []
  /** Events that named a peer the batches never did, or an unknown kind (a bug in the writer). */
  dropped = 0

  constructor (private readonly sink: GossipSink) {}

  read (batch: GossipBatch): void {
    this.peers.push(...batch.peers)
    const ev = batch.events
    for (let i = 0; i + FIELDS <= ev.length; i += FIELDS) {
      const peer = this.peers[ev[i + 1] as number]
      const at = ev[i + 4] as number
      if (peer == null) { this.dropped++; continue }
      switch (ev[i]) {
        case PUB: this.sink.published(peer, ev[i + 2] as number, at); break
        case RECV: {
          const subscriber = this.peers[ev[i + 3] as number]
          if (subscriber == null) { this.dropped++; break }
          this.sink.received(peer, ev[i + 2] as number, subscriber, at)
          break
        }
        case SUB: this.sink.subscribed(peer, at); break
        case UNSUB: this.sink.unsubscribed(peer, at); break
        default: this.dropped++
      }
    }
    if (ev.length % FIELDS !== 0) this.dropped++
  }
}
