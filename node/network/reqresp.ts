// Request/response over libp2p streams, one request per stream: a length-prefixed JSON
// request validated by the protocol's zod schema before the handler sees it, then one
// length-prefixed JSON response `{ ok: true, result }` or `{ ok: false, error: { code, message } }`.
// (Lodestar's reqresp, with JSON + zod as the schema'd codec.)
import { lpStream } from '@libp2p/utils'
import { KaisarError } from '../errors.js'
import { encodeJson } from './json-frames.js'
import type { Logger } from '../log.js'
import type { AbortOptions, PeerId, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { z } from 'zod'

export const MAX_MESSAGE_BYTES = 1024 * 1024

/** An error the handler means to send to the requester (its code travels on the wire). */
export class RemoteError extends KaisarError<{ code: string, protocol: string }> {
  constructor (protocol: string, code: string, message: string) {
    super({ code, protocol }, message)
  }
}

/**
 * Where a request stopped: opening the stream (dial, Noise, Yamux, protocol negotiation), sending
 * the request, or waiting for the reply (and reading it). As Lodestar's DIAL_TIMEOUT / TTFB_TIMEOUT
 * split: a timeout while opening is the connection's, one while waiting is the remote's work.
 */
export type RequestPhase = 'open' | 'send' | 'reply'

/** The request never got an answer: dial failed, stream reset, timeout, garbage reply. */
export class RequestFailedError extends KaisarError<{ code: 'REQUEST_FAILED', protocol: string, phase: RequestPhase }> {
  constructor (protocol: string, phase: RequestPhase, message: string) {
    super({ code: 'REQUEST_FAILED', protocol, phase }, message)
  }
}

const PHASE_WORDS: Record<RequestPhase, string> = { open: 'opening the stream', send: 'sending the request', reply: 'waiting for the reply' }

/** What serving a protocol needs: a libp2p node, or a service's registrar. */
export interface ProtocolHandlers {
  handle: (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) => Promise<void>
}

/** What asking needs: a libp2p node, or a service's connection manager behind this shape. */
export interface StreamDialer {
  dialProtocol: (peer: PeerId | Multiaddr, protocol: string, options?: AbortOptions & { force?: boolean }) => Promise<Stream>
}

type Wire = { ok: true, result: unknown } | { ok: false, error: { code: string, message: string } }

export interface ReqRespHandlerInit<S extends z.ZodType> {
  protocol: string
  schema: S
  /** Returns the result; throw RemoteError to send an error code; any other throw is sent as INTERNAL. */
  handle: (request: z.infer<S>, from: PeerId) => Promise<unknown>
  timeoutMs?: number
  maxInboundStreams?: number
  logger: Logger
  /** Called with a reason whenever a request is refused before the handler (metrics). */
  onInvalid?: (reason: string) => void
  /** Also serve over limited (relayed, not yet unlimited) connections: what a relayed provider needs. */
  runOnLimitedConnection?: boolean
}

export async function registerReqResp<S extends z.ZodType> (libp2p: ProtocolHandlers, init: ReqRespHandlerInit<S>): Promise<void> {
  await libp2p.handle(init.protocol, async (stream, connection) => {
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
    const signal = AbortSignal.timeout(init.timeoutMs ?? 60_000)
    let reply: Wire
    try {
      let raw: Uint8Array
      try {
        raw = (await lp.read({ signal })).subarray()
      } catch (err) {
        // Not the requester's malformed bytes: they did not all arrive in time (a slow or busy
        // requester, a stream that ended early). Counted as invalid input, this hid overload.
        throw new RemoteError(init.protocol, 'REQUEST_NOT_RECEIVED', `request not received: ${(err as Error).message}`)
      }
      let request: unknown
      try {
        request = JSON.parse(Buffer.from(raw).toString('utf8'))
      } catch (err) {
        init.onInvalid?.('malformed')
        throw new RemoteError(init.protocol, 'MALFORMED', `request is not valid JSON: ${(err as Error).message}`)
      }
      const parsed = init.schema.safeParse(request)
      if (!parsed.success) {
        init.onInvalid?.('invalid')
        const issue = parsed.error.issues[0]
        throw new RemoteError(init.protocol, 'INVALID', `invalid request: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'schema'}`)
      }
      reply = { ok: true, result: await init.handle(parsed.data, connection.remotePeer) }
    } catch (err) {
      if (err instanceof RemoteError) reply = { ok: false, error: { code: err.code, message: err.message } }
      else if (err instanceof KaisarError) reply = { ok: false, error: { code: err.code, message: err.message } }
      else {
        init.logger.warn({ err, protocol: init.protocol }, 'request handler failed')
        reply = { ok: false, error: { code: 'INTERNAL', message: 'internal error' } }
      }
    }
    try {
      await lp.write(encodeJson(reply), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: init.maxInboundStreams ?? 256, maxOutboundStreams: 256, runOnLimitedConnection: init.runOnLimitedConnection === true })
}

/** Sends one request and returns the result; RemoteError for an error reply, RequestFailedError otherwise. */
export async function request (libp2p: StreamDialer, peer: PeerId | Multiaddr, protocol: string, body: unknown, options: AbortOptions & { timeoutMs?: number, runOnLimitedConnection?: boolean } = {}): Promise<unknown> {
  const signal = options.signal != null
    ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs ?? 30_000)])
    : AbortSignal.timeout(options.timeoutMs ?? 30_000)
  let wire: Wire
  let phase: RequestPhase = 'open'
  const startedAt = Date.now()
  try {
    const dialOptions = { signal, maxOutboundStreams: 1024, runOnLimitedConnection: options.runOnLimitedConnection === true }
    let stream: Stream
    try {
      stream = await libp2p.dialProtocol(peer, protocol, dialOptions)
    } catch (err) {
      // A connection the remote is closing (its trimmer closes idle ones, connection-trimmer.ts)
      // is still listed here for a moment, and libp2p picks it. Nothing was sent yet, so any
      // request may go again, once, on a new connection.
      if ((err as Error).name !== 'ConnectionClosedError') throw err
      stream = await libp2p.dialProtocol(peer, protocol, { ...dialOptions, force: true })
    }
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
    phase = 'send'
    await lp.write(encodeJson(body), { signal })
    phase = 'reply'
    const bytes = await lp.read({ signal })
    await stream.close({ signal }).catch(() => {})
    wire = JSON.parse(Buffer.from(bytes.subarray()).toString('utf8')) as Wire
  } catch (err) {
    throw new RequestFailedError(protocol, phase, `${protocol} to ${peer.toString()}: ${(err as Error).message} (${PHASE_WORDS[phase]}, ${Date.now() - startedAt} ms after the request began)`)
  }
  if (typeof wire !== 'object' || wire == null || typeof wire.ok !== 'boolean') throw new RequestFailedError(protocol, 'reply', `${protocol}: malformed reply`)
  if (!wire.ok) throw new RemoteError(protocol, String(wire.error?.code ?? 'UNKNOWN'), String(wire.error?.message ?? 'error'))
  return wire.result
}
