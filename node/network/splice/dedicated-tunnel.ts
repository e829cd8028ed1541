// Both ends of a dedicated tunnel (protocols/tunnel/dedicated.ts) on a socket already joined to
// the gateway's splice port: the Noise handshake and the first message each way run through
// libp2p's Noise on a SocketMultiaddrConnection that passes exactly those frames, then the socket
// is handed off to the sealed-record pipe (node/network/sealed-pipe.ts).
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { dedicatedTunnelHeaderSchema, dedicatedTunnelReplySchema, DEDICATED_MESSAGE_MAX_BYTES, type DedicatedTunnelReply } from '../../../protocols/tunnel/dedicated.js'
import { RECORD_KEY_BYTES } from '../../../protocols/tunnel/records.js'
import { TunnelRefusedError } from '../../errors.js'
import { decodeJson, encodeJson } from '../json-frames.js'
import { pipeSealed, type SealedKeys, type SealedPipeResult } from '../sealed-pipe.js'
import { SocketMultiaddrConnection } from './socket-connection.js'
import type { AbortOptions, ConnectionEncrypter, Logger, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

// Noise frames each side receives before the hand-off: the user the handshake's second message
// and the reply; the provider the first and third handshake messages and the header.
const USER_FRAMES = 2
const PROVIDER_FRAMES = 3

export interface SocketInit {
  socket: net.Socket
  /** The gateway's splice port, for logs. */
  remoteAddr: Multiaddr
  log: Logger
}

/** A dedicated tunnel the user's node opened, ready for `pipeSealed(local, socket, keys, { leftover })`. */
export interface DialedTunnel {
  socket: net.Socket
  leftover: Uint8Array
  keys: SealedKeys
}

/** A dedicated tunnel whose handshake is done and whose header is not sent yet (a spare, opened ahead of use). */
export interface HandshakenTunnel {
  /** Sends the header and reads the reply: the tunnel, or TunnelRefusedError. Once only. */
  open: (token: string, port: number, options?: AbortOptions) => Promise<DialedTunnel>
  /** Whether the socket is still open (a spare the provider or the gateway closed is not). */
  readonly usable: boolean
  close: () => void
}

/**
 * User: the handshake with `provider` (its peer id is checked). The header follows with `open()`,
 * now or later (the provider waits DEDICATED_HEADER_WAIT_MS for it). Throws when the handshake or
 * the socket failed; the socket is destroyed then.
 */
export async function handshakeDedicatedTunnel (encrypter: ConnectionEncrypter, init: SocketInit & { provider: PeerId }, options: AbortOptions = {}): Promise<HandshakenTunnel> {
  const maConn = new SocketMultiaddrConnection({ socket: init.socket, direction: 'outbound', remoteAddr: init.remoteAddr, log: init.log, frames: USER_FRAMES })
  let messages
  try {
    const secured = await encrypter.secureOutbound(maConn, { remotePeer: init.provider, skipStreamMuxerNegotiation: true, signal: options.signal })
    messages = lpStream(secured.connection, { maxDataLength: DEDICATED_MESSAGE_MAX_BYTES })
  } catch (err) {
    init.socket.destroy()
    throw err
  }
  let opened = false
  return {
    get usable () { return !opened && !init.socket.destroyed && !init.socket.readableEnded },
    close: () => { init.socket.destroy() },
    open: async (token, port, opts = {}) => {
      if (opened) throw new Error('a dedicated tunnel is opened once')
      opened = true
      try {
        const key = randomBytes(RECORD_KEY_BYTES)
        await messages.write(encodeJson({ token, port, key: key.toString('hex') }), opts)
        const reply = decodeJson((await messages.read(opts)).subarray(), dedicatedTunnelReplySchema)
        if (!reply.ok) throw new TunnelRefusedError(reply.code, reply.message)
        const { socket, leftover } = maConn.handOff()
        return { socket, leftover, keys: { send: key, receive: Buffer.from(reply.key, 'hex') } }
      } catch (err) {
        init.socket.destroy()
        throw err
      }
    }
  }
}

/** A dedicated tunnel the provider's node answered: authenticated, its header read, not yet accepted. */
export interface InboundDedicatedTunnel {
  /** The user's peer (from the Noise handshake). */
  peer: PeerId
  token: string
  port: number
  /** Accepts: pipes `target` (connected, or connecting) and the tunnel until both end. */
  accept: (target: net.Socket) => Promise<SealedPipeResult>
  /** Refuses with a code and message the user sees, and closes the tunnel. */
  refuse: (code: string, message: string) => Promise<void>
}

export interface AnswerOptions {
  /** Bounds the handshake. */
  handshakeSignal: AbortSignal
  /** Called once the handshake is done, for the wait for the header (up to DEDICATED_HEADER_WAIT_MS: a spare). */
  headerSignal: () => AbortSignal
  /**
   * The user `peer` authenticated and its header is awaited: returns the release of that wait,
   * or throws to refuse it (too many spares of this peer's).
   */
  waitForHeader: (peer: PeerId) => () => void
}

/**
 * Provider: the handshake (any peer may complete it; the lease token decides), then the header.
 * Throws when the handshake fails, no header comes in time, or it is malformed (refused with code
 * 'malformed' first); the socket is destroyed then.
 */
export async function answerDedicatedTunnel (encrypter: ConnectionEncrypter, init: SocketInit, options: AnswerOptions): Promise<InboundDedicatedTunnel> {
  const maConn = new SocketMultiaddrConnection({ socket: init.socket, direction: 'inbound', remoteAddr: init.remoteAddr, log: init.log, frames: PROVIDER_FRAMES })
  let release: (() => void) | undefined
  try {
    const secured = await encrypter.secureInbound(maConn, { skipStreamMuxerNegotiation: true, signal: options.handshakeSignal })
    release = options.waitForHeader(secured.remotePeer)
    const messages = lpStream(secured.connection, { maxDataLength: DEDICATED_MESSAGE_MAX_BYTES })
    // The reply is not bound by the signals: they bound the handshake and the header only, not
    // how long the caller takes to decide.
    const send = async (reply: DedicatedTunnelReply): Promise<void> => { await messages.write(encodeJson(reply)) }
    let bytes
    try {
      // No header in time (a spare its user gave up), or the socket closed: closed without a
      // reply, which the user would otherwise read as a refusal of its next connection.
      bytes = await messages.read({ signal: options.headerSignal() })
    } finally {
      release?.()
      release = undefined
    }
    let header
    try {
      header = decodeJson(bytes.subarray(), dedicatedTunnelHeaderSchema)
    } catch (err) {
      await send({ ok: false, code: 'malformed', message: (err as Error).message.slice(0, 1024) }).catch(() => {})
      throw err
    }
    const userKey = Buffer.from(header.key, 'hex')
    let answered = false
    return {
      peer: secured.remotePeer,
      token: header.token,
      port: header.port,
      accept: async (target) => {
        if (answered) throw new Error('answered twice')
        answered = true
        const key = randomBytes(RECORD_KEY_BYTES)
        try {
          await send({ ok: true, key: key.toString('hex') })
        } catch (err) {
          target.destroy()
          init.socket.destroy()
          return { sent: 0, received: 0, error: err as Error }
        }
        const { socket, leftover } = maConn.handOff()
        return await pipeSealed(target, socket, { send: key, receive: userKey }, { leftover })
      },
      refuse: async (code, message) => {
        if (answered) throw new Error('answered twice')
        answered = true
        await send({ ok: false, code, message }).catch(() => {})
        init.socket.end()
        // A user that does not close its end is not waited for.
        setTimeout(() => { init.socket.destroy() }, 5_000).unref()
      }
    }
  } catch (err) {
    release?.()
    init.socket.destroy()
    throw err
  }
}
