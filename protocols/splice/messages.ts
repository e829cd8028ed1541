// Spliced relay (DESIGN §1.7, bench/TUNNEL.md): a lease holder reaches a provider that has no
// dialable address through its gateway, with the gateway forwarding TCP bytes between two
// sockets instead of running circuit relay v2 (which wraps the end-to-end Noise session in a
// second Noise session per hop: every byte encrypted three times). The user's node and the
// provider then run Noise + Yamux over the spliced bytes: one encryption, end to end; the
// gateway sees ciphertext only, as with circuit relay.
//
//  /kaisar/splice/1.0.0        user → gateway: { provider }             → { port, ticket }
//  /kaisar/splice-offer/1.0.0  gateway → provider: { port, ticket }     → { ok }
//
// Each side then opens a TCP connection to the gateway's splice port and writes its ticket
// (TICKET_BYTES raw bytes) before anything else; the gateway pairs the two tickets of one
// splice and from then on only copies bytes. Tickets are random, single use, short lived.
//
// `mode` says what the two ends run over the splice: 'connection' (the default) a libp2p
// connection (Noise, then Yamux, many streams); 'tunnel' one dedicated tunnel
// (protocols/tunnel/dedicated.ts). The gateway treats both the same; it only passes the mode on.
import { z } from 'zod'

export const TICKET_BYTES = 32

const ticket = z.string().regex(new RegExp(`^[0-9a-f]{${TICKET_BYTES * 2}}$`), `${TICKET_BYTES} bytes, hex`)
const port = z.number().int().min(1).max(65535)

const mode = z.enum(['connection', 'tunnel'])
export type SpliceMode = z.infer<typeof mode>

export const spliceRequestSchema = z.object({ provider: z.string().min(1).max(128), mode: mode.optional() }).strict()
export type SpliceRequest = z.infer<typeof spliceRequestSchema>

export const spliceGrantSchema = z.object({ port, ticket }).strict()
export type SpliceGrant = z.infer<typeof spliceGrantSchema>

export const spliceOfferSchema = z.object({ port, ticket, mode: mode.optional() }).strict()
export type SpliceOffer = z.infer<typeof spliceOfferSchema>
