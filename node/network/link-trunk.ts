// One socket between two of the simulator's processes, carrying every link between their nodes.
//
// Why: over kernel TCP each link between two processes is a socket, a descriptor in both. At
// 1,000 nodes in three processes a worker passed 7,000 descriptors with a third of the nodes up,
// growing by ≈ 20 a node, and a run before died at its 20,000 limit, which cannot be raised here
// (sim/README.md, stops 29 and 30). Links inside a process were already in memory
// (in-process-links.ts); a trunk extends that across processes: a link is a channel of frames on
// the trunk, so two processes share one descriptor however many nodes they hold, and no link
// costs a system call of its own. Nodes see the same thing they see on an in-process link:
// an address dialled, the listener's own upgrade (unencrypted, or Noise when asked), Yamux.
//
// Frames: u32 length (of what follows) | u8 type | u32 channel | body. A channel is opened by
// either side: the side that connected numbers its channels odd, the side that accepted even (as
// Yamux does its streams), so both can open at once without asking. Control frames:
//   ANNOUNCE (channel 0): a node of the sender listens at an address (JSON {address, peer});
//   WITHDRAW (channel 0): no longer (JSON {address});
//   OPEN: a link to an address (JSON {addr, dialer}); answered by RESET if nobody listens there.
// Then DATA, and CLOSE or RESET (both end the whole link, as a socket's close or reset does).
// No flow control, as on in-process links: a reader buffers up to its own limits.
import { StreamResetError } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { AbstractMultiaddrConnection, type SendResult } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { z } from 'zod'
import type { AbortOptions, Logger } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Socket } from 'node:net'

export const FRAME = { ANNOUNCE: 1, WITHDRAW: 2, OPEN: 3, DATA: 4, CLOSE: 5, RESET: 6 } as const
type FrameType = typeof FRAME[keyof typeof FRAME]

const HEADER_BYTES = 9
/** Larger than any write libp2p hands a connection at once; a longer frame means a broken trunk. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024

const announceSchema = z.object({ address: z.string().min(1), peer: z.string().min(1) }).strict()
const withdrawSchema = z.object({ address: z.string().min(1) }).strict()
const openSchema = z.object({ addr: z.string().min(1), dialer: z.string().min(1) }).strict()
export type TrunkOpen = z.infer<typeof openSchema>

/** What a trunk asks of its process's registry (InProcessLinks). */
export interface TrunkHost {
  /**
   * The other process opened a link to `open.addr`: hand the listener there the end `makeEnd`
   * makes (its remote address, where the link seems to come from); false if none listens.
   */
  accept: (open: TrunkOpen, makeEnd: (remoteAddr: Multiaddr) => TrunkLinkEnd) => boolean
  /** A node of the other process listens at `address` (host:port). */
  listening: (address: string, peer: string) => void
  /** ... no longer. */
  gone: (address: string) => void
  /** The trunk's socket closed; its links are over. */
  closed: () => void
}

export class LinkTrunk {
  private readonly ends = new Map<number, TrunkLinkEnd>()
  private nextChannel: number
  private readonly incoming = new Uint8ArrayList()
  private outgoing: Uint8Array[] = []
  /** Ends with data written since the last flush: each goes out as one DATA frame. */
  private dirty = new Set<TrunkLinkEnd>()
  private flushScheduled = false
  private closed = false
  private readonly log: Logger = logger('kaisar:link-trunk')
  /** Links opened on this trunk, either way (the simulator reports it). */
  opened = 0

  /** `initiator`: this side connected the socket (its channels are odd). */
  constructor (private readonly socket: Socket, initiator: boolean, private readonly host: TrunkHost) {
    this.nextChannel = initiator ? 1 : 2
    socket.setNoDelay(true)
    socket.on('data', (buf: Buffer) => { this.receive(buf) })
    socket.on('error', () => {}) // 'close' follows, and ends everything
    socket.on('close', () => { this.shutdown() })
  }

  get open (): number { return this.ends.size }

  announce (address: string, peer: string): void { this.control(FRAME.ANNOUNCE, { address, peer }) }
  withdraw (address: string): void { this.control(FRAME.WITHDRAW, { address }) }

  /** A new link to `open.addr` (`remoteAddr`) in the other process: the dialler's end. */
  dial (open: TrunkOpen, remoteAddr: Multiaddr): TrunkLinkEnd {
    if (this.closed) throw new Error('the link trunk to the other process is closed')
    const channel = this.nextChannel
    this.nextChannel = (this.nextChannel + 2) % 0x1_0000_0000
    const end = new TrunkLinkEnd({ remoteAddr, direction: 'outbound', log: this.log.newScope('outbound') }, this, channel)
    this.ends.set(channel, end)
    this.opened++
    this.send(FRAME.OPEN, channel, Buffer.from(JSON.stringify(open)))
    return end
  }

  close (): void { this.socket.destroy() }

  /** @internal A link end's bytes, close or reset. */
  send (type: FrameType, channel: number, body?: Uint8Array | Uint8ArrayList): void {
    if (this.closed) return
    const header = Buffer.allocUnsafe(HEADER_BYTES)
    header.writeUInt32BE(HEADER_BYTES - 4 + (body?.byteLength ?? 0), 0)
    header.writeUInt8(type, 4)
    header.writeUInt32BE(channel, 5)
    this.outgoing.push(header)
    if (body instanceof Uint8ArrayList) for (const b of body) this.outgoing.push(b)
    else if (body != null) this.outgoing.push(body)
    this.scheduleFlush()
  }

  /** @internal An end wrote data: it goes out with the next flush, with whatever else it writes until then. */
  wrote (end: TrunkLinkEnd): void {
    this.dirty.add(end)
    this.scheduleFlush()
  }

  private scheduleFlush (): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    // One write for everything sent this turn of the loop: a Yamux frame comes in parts, and
    // each write is a system call.
    setImmediate(() => { this.flush() })
  }

  /** @internal The end of a link sent CLOSE or RESET: forget it. */
  finished (channel: number, type: typeof FRAME.CLOSE | typeof FRAME.RESET): void {
    if (this.ends.delete(channel)) this.send(type, channel)
  }

  private flush (): void {
    this.flushScheduled = false
    // One DATA frame per end for everything it wrote this turn, as a socket's read would coalesce
    // it: each frame is one delivery, one pass through the reader's Yamux decoder.
    const dirty = this.dirty
    this.dirty = new Set()
    for (const end of dirty) end.flushTo(this)
    const bufs = this.outgoing
    this.outgoing = []
    if (!this.closed && bufs.length > 0) this.socket.write(bufs.length === 1 ? bufs[0] as Uint8Array : Buffer.concat(bufs))
  }

  private control (type: FrameType, body: unknown): void { this.send(type, 0, Buffer.from(JSON.stringify(body))) }

  private receive (buf: Buffer): void {
    this.incoming.append(buf)
    while (this.incoming.byteLength >= HEADER_BYTES && !this.closed) {
      const length = this.incoming.getUint32(0)
      if (length < HEADER_BYTES - 4 || length > MAX_FRAME_BYTES) { this.fail(`a frame of ${length} bytes`); return }
      if (this.incoming.byteLength < 4 + length) return
      const type = this.incoming.getUint8(4)
      const channel = this.incoming.getUint32(5)
      const body = copyOut(this.incoming, HEADER_BYTES, 4 + length)
      this.incoming.consume(4 + length)
      try {
        this.frame(type, channel, body)
      } catch (err) {
        this.fail((err as Error).message)
        return
      }
    }
  }

  private frame (type: number, channel: number, body: Uint8Array): void {
    const json = (): unknown => JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'))
    switch (type) {
      case FRAME.ANNOUNCE: { const a = announceSchema.parse(json()); this.host.listening(a.address, a.peer); return }
      case FRAME.WITHDRAW: { this.host.gone(withdrawSchema.parse(json()).address); return }
      case FRAME.OPEN: {
        const open = openSchema.parse(json())
        if (channel === 0 || this.ends.has(channel) || channel % 2 === this.nextChannel % 2) throw new Error(`OPEN on channel ${channel}, not the other side's to open`)
        const accepted = this.host.accept(open, remoteAddr => {
          const end = new TrunkLinkEnd({ remoteAddr, direction: 'inbound', log: this.log.newScope('inbound') }, this, channel)
          this.ends.set(channel, end)
          this.opened++
          return end
        })
        if (!accepted) this.send(FRAME.RESET, channel)
        return
      }
      case FRAME.DATA: { this.ends.get(channel)?.onData(body); return } // data after a reset is dropped, as a socket's would be
      case FRAME.CLOSE: {
        const end = this.ends.get(channel)
        this.ends.delete(channel)
        end?.finishedByRemote()
        end?.onTransportClosed()
        return
      }
      case FRAME.RESET: {
        const end = this.ends.get(channel)
        this.ends.delete(channel)
        end?.finishedByRemote()
        end?.abort(new StreamResetError('link reset by the other process\'s end'))
        return
      }
      default: throw new Error(`unknown frame type ${type}`)
    }
  }

  /** A frame that cannot be from our own peer process: the trunk is broken, and so are its links. */
  private fail (why: string): void {
    this.socket.destroy(new Error(`link trunk: ${why}`))
    this.shutdown()
  }

  private shutdown (): void {
    if (this.closed) return
    this.closed = true
    this.outgoing = []
    this.dirty.clear()
    const ends = [...this.ends.values()]
    this.ends.clear()
    for (const end of ends) {
      end.finishedByRemote()
      end.abort(new Error('the link trunk to the other process closed'))
    }
    this.host.closed()
  }
}

/**
 * Bytes `begin`..`end` of `list`, copied into an array of their own. Not a view: a socket read
 * holds many links' frames, and a view kept by one reader (gossipsub keeps messages it decoded
 * in place) would keep the whole read alive; a kernel socket's read is sized to that one link.
 */
function copyOut (list: Uint8ArrayList, begin: number, end: number): Uint8Array {
  const out = new Uint8Array(end - begin)
  let at = 0
  for (const buf of list.sublist(begin, end)) { out.set(buf, at); at += buf.byteLength }
  return out
}

interface TrunkEndInit { remoteAddr: Multiaddr, direction: 'inbound' | 'outbound', log: Logger }

/** One end of a link carried by a trunk. */
export class TrunkLinkEnd extends AbstractMultiaddrConnection {
  private done = false
  private pending: Uint8Array[] = []

  constructor (init: TrunkEndInit, private readonly trunk: LinkTrunk, readonly channel: number) {
    super(init)
  }

  sendData (data: Uint8ArrayList): SendResult {
    // The buffers go to the socket as they are: libp2p does not reuse one it has sent.
    if (!this.done) {
      for (const buf of data) this.pending.push(buf)
      this.trunk.wrote(this)
    }
    return { sentBytes: data.byteLength, canSendMore: true }
  }

  /** @internal What this end wrote since the last flush, as one DATA frame. */
  flushTo (trunk: LinkTrunk): void {
    if (this.pending.length === 0) return
    const bufs = this.pending
    this.pending = []
    trunk.send(FRAME.DATA, this.channel, bufs.length === 1 ? bufs[0] as Uint8Array : new Uint8ArrayList(...bufs))
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    this.end(FRAME.CLOSE)
  }

  sendReset (): void { this.end(FRAME.RESET) }
  sendPause (): void {}
  sendResume (): void {}

  /** @internal The other end closed or reset it (or the trunk went): nothing more to send. */
  finishedByRemote (): void { this.done = true; this.pending = [] }

  private end (type: typeof FRAME.CLOSE | typeof FRAME.RESET): void {
    if (this.done) return
    this.done = true
    // A close follows what was written, as a socket's end does; a reset drops it.
    if (type === FRAME.CLOSE) this.flushTo(this.trunk)
    else this.pending = []
    this.trunk.finished(this.channel, type)
  }
}
