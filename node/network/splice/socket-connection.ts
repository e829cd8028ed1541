// A TCP socket as a libp2p MultiaddrConnection, so the upgrader can run Noise and Yamux over a
// socket that no libp2p transport dialled or accepted: a spliced connection, whose bytes a
// gateway forwards between two sockets it paired (splice-relay.ts). The shape follows
// @libp2p/tcp 11's socket-to-conn (not exported by that package); keeping the field `socket`
// lets stream-tuning's corked writes apply here as on any TCP connection.
import net from 'node:net'
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import type { AbortOptions, Logger, MessageStreamDirection } from '@libp2p/interface'
import type { SendResult } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SocketConnectionInit {
  socket: net.Socket
  direction: MessageStreamDirection
  remoteAddr: Multiaddr
  log: Logger
  /**
   * Pass only this many whole Noise frames (uint16 BE length + body) to libp2p, then hold every
   * later byte for `handOff()`: a dedicated tunnel runs its Noise handshake and first messages
   * through libp2p's Noise and the rest of its bytes on its own record layer, on the same socket.
   */
  frames?: number
}

/** What a handed-off socket had received past the frames libp2p was given. */
export interface HandedOff { socket: net.Socket, leftover: Uint8Array }

export class SocketMultiaddrConnection extends AbstractMultiaddrConnection {
  readonly socket: net.Socket
  private readonly onSocketData = (buf: Buffer): void => { if (this.framesLeft < 0) this.onData(buf); else this.gate(buf) }
  private readonly onSocketError = (err: Error): void => { this.abort(err) }
  private readonly onSocketEnd = (): void => { this.onTransportClosed() }
  private readonly onSocketClose = (hadError: boolean): void => {
    if (hadError) this.abort(new Error('TCP transmission error'))
    else this.onTransportClosed()
  }
  private readonly onSocketDrain = (): void => { this.safeDispatchEvent('drain') }
  /** Frames still to pass (with `frames`), the partial one's bytes, and what came after the last. */
  private framesLeft: number
  private frameBytes: Buffer[] = []
  private leftover: Buffer[] = []

  constructor (init: SocketConnectionInit) {
    super({ remoteAddr: init.remoteAddr, direction: init.direction, log: init.log, inactivityTimeout: 0 })
    this.socket = init.socket
    this.framesLeft = init.frames ?? -1
    this.socket.on('data', this.onSocketData)
    this.socket.on('error', this.onSocketError)
    this.socket.once('end', this.onSocketEnd)
    this.socket.once('close', this.onSocketClose)
    this.socket.on('drain', this.onSocketDrain)
  }

  /** Passes whole frames while `framesLeft` lasts; keeps the rest. */
  private gate (buf: Buffer): void {
    if (this.framesLeft === 0) { this.leftover.push(buf); return }
    this.frameBytes.push(buf)
    let all = this.frameBytes.length === 1 ? buf : Buffer.concat(this.frameBytes)
    let passed = 0
    while (this.framesLeft > 0 && all.byteLength - passed >= 2) {
      const end = passed + 2 + all.readUInt16BE(passed)
      if (all.byteLength < end) break
      passed = end
      this.framesLeft--
    }
    if (passed > 0) this.onData(all.subarray(0, passed))
    all = all.subarray(passed)
    if (this.framesLeft === 0) {
      this.frameBytes = []
      if (all.byteLength > 0) this.leftover.push(all)
    } else {
      this.frameBytes = all.byteLength > 0 ? [all] : []
    }
  }

  /**
   * Takes the socket away from libp2p once its frames were passed: every listener this
   * connection added is removed, the socket is paused (its next reads wait in its buffer), and
   * the bytes received past the last frame are returned. The connection object is dead afterwards.
   */
  handOff (): HandedOff {
    if (this.framesLeft !== 0) throw new Error(`hand-off before the frames were passed (${this.framesLeft} left)`)
    this.socket.off('data', this.onSocketData)
    this.socket.off('error', this.onSocketError)
    this.socket.off('end', this.onSocketEnd)
    this.socket.off('close', this.onSocketClose)
    this.socket.off('drain', this.onSocketDrain)
    this.socket.pause()
    return { socket: this.socket, leftover: this.leftover.length === 1 ? this.leftover[0] as Buffer : Buffer.concat(this.leftover) }
  }

  sendData (data: Uint8ArrayList): SendResult {
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      sentBytes += buf.byteLength
      canSendMore = this.socket.write(buf)
      if (!canSendMore) break
    }
    return { sentBytes, canSendMore }
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    if (this.socket.destroyed) return
    this.socket.destroySoon()
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { reject(options?.signal?.reason as Error) }
      options?.signal?.addEventListener('abort', onAbort, { once: true })
      this.socket.once('close', () => { options?.signal?.removeEventListener('abort', onAbort); resolve() })
    })
  }

  sendReset (): void {
    if (this.socket.writableEnded) { this.socket.destroy(); return }
    this.socket.resetAndDestroy()
  }

  sendPause (): void { this.socket.pause() }
  sendResume (): void { this.socket.resume() }
}
