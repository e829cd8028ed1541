// The node's gossip topics (DESIGN §2). Gossip carries small signed announcements only:
// anything addressed to one peer, or large, goes over a direct stream.
import { multiaddr } from '@multiformats/multiaddr'
import { NodeRole } from '../../../protocols/gossip/codec.js'
import { Heartbeat } from '../../../protocols/gossip/heartbeat.js'
import { BlockAnnouncement } from '../../../protocols/gossip/ledger-block.js'
import { TOPICS } from '../../../protocols/ids.js'
import { PopwMessage } from '../../../protocols/popw/popw.js'
import { ACCEPT, reject, type GossipAction, type GossipContext, type TopicSpec } from './topic.js'

function isMultiaddrBytes (bytes: Uint8Array): boolean {
  if (bytes.byteLength === 0 || bytes.byteLength > HEARTBEAT_MAX_ADDRESS_BYTES) return false
  try { multiaddr(bytes); return true } catch { return false }
}

export const HEARTBEAT_MAX_INTERVAL_MS = 10 * 60_000
/** A provider listens on a few addresses (TCP, WebSockets, a relay's circuit or two). */
export const HEARTBEAT_MAX_ADDRESSES = 8
/** The longest address worth carrying: a circuit address through a relay is ≈ 90 bytes. */
const HEARTBEAT_MAX_ADDRESS_BYTES = 256

export const heartbeatTopic: TopicSpec<Heartbeat> = {
  topic: TOPICS.heartbeat,
  codec: { encode: Heartbeat.encode, decode: bytes => Heartbeat.decode(bytes, { limits: { addresses: HEARTBEAT_MAX_ADDRESSES } }) },
  roles: [NodeRole.PROVIDER],
  maxBytes: 1024,
  maxAgeMs: 60_000,
  validate: hb => {
    if (hb.intervalMs < 100 || hb.intervalMs > HEARTBEAT_MAX_INTERVAL_MS) return reject('bad-interval')
    // The addresses are signed by the provider they lead to, and a dial to them authenticates
    // that peer (Noise): a wrong one costs only a failed dial. Still, each must parse.
    if (!hb.addresses.every(isMultiaddrBytes)) return reject('bad-address')
    return ACCEPT
  }
}

/**
 * New local-ledger blocks, announced by the ledger host. Only the host may announce: the
 * validator is built with the host's peer id (every node knows which peer hosts its ledger).
 */
export function ledgerTopic (hostPeerId: string): TopicSpec<BlockAnnouncement> {
  return {
    topic: TOPICS.ledger,
    codec: { encode: BlockAnnouncement.encode, decode: bytes => BlockAnnouncement.decode(bytes) },
    roles: [NodeRole.GATEWAY, NodeRole.PROVIDER, NodeRole.CHECKER],
    maxBytes: 512,
    maxAgeMs: 60_000,
    validate: (block, ctx) => {
      if (ctx.signer.toString() !== hostPeerId) return reject('not-ledger-host')
      if (block.hash.byteLength !== 32) return reject('bad-hash')
      return ACCEPT
    }
  }
}

/**
 * Proof of Physical Work: checkers' commitments and reveals. Only checkers publish; the
 * semantic checks (epoch window, licence, assignment, commitment) are the PoPW module's
 * (node/popw/validation.ts), handed in here so the network layer stays free of them.
 */
export function popwTopic (validate: (msg: PopwMessage, ctx: GossipContext) => GossipAction | Promise<GossipAction>): TopicSpec<PopwMessage> {
  return {
    topic: TOPICS.popw,
    codec: { encode: PopwMessage.encode, decode: bytes => PopwMessage.decode(bytes, { limits: { commit: { entries: 256 }, reveal: { entries: 256, entries$: { verdict: { reasons: 16 } } } } }) },
    roles: [NodeRole.CHECKER],
    maxBytes: 60 * 1024,
    maxAgeMs: 10 * 60_000,
    validate
  }
}
