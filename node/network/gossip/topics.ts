// The node's gossip topics (DESIGN §2). Gossip carries small signed announcements only:
// anything addressed to one peer, or large, goes over a direct stream.
import { NodeRole } from '../../../protocols/gossip/codec.js'
import { Heartbeat } from '../../../protocols/gossip/heartbeat.js'
import { TOPICS } from '../../../protocols/ids.js'
import { ACCEPT, reject, type TopicSpec } from './topic.js'

export const HEARTBEAT_MAX_INTERVAL_MS = 10 * 60_000

export const heartbeatTopic: TopicSpec<Heartbeat> = {
  topic: TOPICS.heartbeat,
  codec: { encode: Heartbeat.encode, decode: bytes => Heartbeat.decode(bytes) },
  roles: [NodeRole.PROVIDER],
  maxBytes: 1024,
  maxAgeMs: 60_000,
  validate: hb => {
    if (hb.intervalMs < 100 || hb.intervalMs > HEARTBEAT_MAX_INTERVAL_MS) return reject('bad-interval')
    return ACCEPT
  }
}
