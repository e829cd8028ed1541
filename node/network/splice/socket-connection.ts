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
}

export class SocketMultiaddrConnection extends AbstractMultiaddrConnection {
  readonly socket: net.Socket

  constructor (init: SocketConnectionInit) {
    super({ remoteAddr: init.remoteAddr, direction: init.direction, log: init.log, inactivityTimeout: 0 })
    this.socket = init.socket
    this.socket.on('data', buf => { this.onData(buf) })
    this.socket.on('error', err => { this.abort(err) })
    this.socket.once('end', () => { this.onTransportClosed() })
    this.socket.once('close', hadError => {
      if (hadError) this.abort(new Error('TCP transmission error'))
      else this.onTransportClosed()
    })
    this.socket.on('drain', () => { this.safeDispatchEvent('drain') })
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
