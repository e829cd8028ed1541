// What a gossip topic is to this node: its payload codec, who may publish on it, how big
// and how old a message may be, and the semantic checks beyond the envelope.
import type { NodeRole } from '../../../protocols/gossip/codec.js'
import type { TopicName } from '../../../protocols/ids.js'
import type { PeerId } from '@libp2p/interface'

export interface PayloadCodec<T> {
  encode: (value: T) => Uint8Array<ArrayBuffer>
  decode: (bytes: Uint8Array) => T
}

/** Outcome of validating one message, mapped onto gossipsub's Accept / Ignore / Reject. */
export type GossipAction =
  | { action: 'accept' }
  /** Not forwarded, sender not penalised: stale, duplicate, not for us. */
  | { action: 'ignore', reason: string }
  /** Not forwarded and the sender's peer score drops: malformed, forged, out of role. */
  | { action: 'reject', reason: string }

export const ACCEPT: GossipAction = { action: 'accept' }
export const ignore = (reason: string): GossipAction => ({ action: 'ignore', reason })
export const reject = (reason: string): GossipAction => ({ action: 'reject', reason })

export interface GossipContext {
  /** Originator (who signed), not the peer that forwarded the message to us. */
  signer: PeerId
  role: NodeRole
  /** Originator's clock, ms since epoch. */
  timestamp: number
  /** The payload's bytes as the originator signed them (what the value was decoded from). */
  payload: Uint8Array
}

export interface GossipMessage<T> extends GossipContext {
  topic: TopicName
  value: T
}

export interface TopicSpec<T> {
  topic: TopicName
  codec: PayloadCodec<T>
  /** Roles allowed to originate messages on this topic. */
  roles: readonly NodeRole[]
  maxBytes: number
  /** Messages older than this (by the originator's clock) are ignored. */
  maxAgeMs: number
  /** Checks that need the decoded payload; runs after signature, role and age checks. */
  validate?: (value: T, ctx: GossipContext) => GossipAction | Promise<GossipAction>
}

/** How far ahead of our clock a message may claim to be. */
export const MAX_CLOCK_SKEW_MS = 30_000
