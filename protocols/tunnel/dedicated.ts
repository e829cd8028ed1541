// A dedicated tunnel: one TCP connection of a lease holder to a container port, carried over its
// own spliced socket through the gateway (protocols/splice/messages.ts, mode 'tunnel') with no
// stream multiplexer, for the bulk path from user to provider (bench/TUNNEL.md, "Stop 26").
//
// On the spliced socket, after each side's ticket (which the gateway consumes):
//  1. Noise XX, user as initiator (it knows the provider's peer id and checks it), with Noise's
//     AESGCM cipher functions and DEDICATED_TUNNEL_PROTOCOL as the prologue; libp2p's identity
//     payload, so each side learns the other's peer id as on any libp2p connection.
//  2. user → provider, one Noise transport message: a JSON `DedicatedTunnelHeader` (the lease
//     token and port, as /kaisar/tunnel/1.0.0's header, plus the user's record key). The user may
//     send it later than the handshake: a node keeps a spare tunnel handshaken ahead of use, so
//     that a new connection costs one round trip, not a splice and a handshake. The provider
//     waits DEDICATED_HEADER_WAIT_MS for it, for a few spares per user.
//  3. provider → user, one Noise transport message: `DedicatedTunnelReply`, with the provider's
//     record key when it accepts, or the refusal.
//  4. Sealed records both ways (records.ts), each direction under the key its sender chose in 2
//     or 3. Those keys travel only inside Noise transport messages, so they are as secret and as
//     authenticated as the Noise session's own keys, and as forward secret (the session's keys
//     come from ephemeral Diffie-Hellman; nothing in 2 or 3 can be read later with the peers'
//     static keys). The gateway sees ciphertext only, as on any splice.
// Why records after the Noise messages rather than more Noise messages: records are opened
// while they arrive and the socket's read buffers are reused (records.ts); measured, an end costs
// 0.9–1.0 CPU ms/MiB this way against 1.4–1.5 through libp2p's Noise and Yamux.
import { z } from 'zod'
import { DEDICATED_TUNNEL_PROTOCOL } from '../ids.js'
import { RECORD_KEY_BYTES } from './records.js'

export { DEDICATED_TUNNEL_PROTOCOL }
export const DEDICATED_TUNNEL_PROLOGUE: Uint8Array = new TextEncoder().encode(DEDICATED_TUNNEL_PROTOCOL)

const recordKey = z.string().regex(new RegExp(`^[0-9a-f]{${RECORD_KEY_BYTES * 2}}$`), `${RECORD_KEY_BYTES} bytes, hex`)

export const dedicatedTunnelHeaderSchema = z.object({
  token: z.string().max(4096),
  port: z.number().int().min(1).max(65535),
  /** The user's key for its records to the provider. */
  key: recordKey
}).strict()
export type DedicatedTunnelHeader = z.infer<typeof dedicatedTunnelHeaderSchema>

export const dedicatedTunnelReplySchema = z.union([
  /** `key`: the provider's key for its records to the user. */
  z.object({ ok: z.literal(true), key: recordKey }).strict(),
  z.object({ ok: z.literal(false), code: z.string().max(64), message: z.string().max(1024) }).strict()
])
export type DedicatedTunnelReply = z.infer<typeof dedicatedTunnelReplySchema>

/** How long the provider waits for the header after the handshake (the user replaces its spares sooner). */
export const DEDICATED_HEADER_WAIT_MS = 60_000

/** A header or reply is one Noise transport message: it never needs more than this. */
export const DEDICATED_MESSAGE_MAX_BYTES = 8192
