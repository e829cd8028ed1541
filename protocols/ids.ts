// Every wire protocol id and gossip topic of the network, in one place (DESIGN §2).
// Ids are versioned: a breaking change gets a new id, and both run side by side for a while.

/** kad-dht runs under its own prefix, so the network is closed: a stray IPFS peer speaks /ipfs/kad and is never added. */
export const DHT_PROTOCOL = '/kaisar/kad/1.0.0'

/** Noise with AES-256-GCM (node/network/noise-aesgcm.ts), offered before libp2p's /noise. */
export const NOISE_AESGCM_PROTOCOL = '/kaisar/noise-aesgcm/1.0.0'

/**
 * A dedicated tunnel on its own spliced socket (protocols/tunnel/dedicated.ts): not negotiated
 * by multistream-select (the splice offer says what the socket is for), but the prologue of its
 * Noise handshake, so the handshake binds it.
 */
export const DEDICATED_TUNNEL_PROTOCOL = '/kaisar/tunnel-dedicated/1.0.0'

export const PROTOCOLS = {
  bid: '/kaisar/bid/1.0.0',
  lease: '/kaisar/lease/1.0.0',
  tunnel: '/kaisar/tunnel/1.0.0',
  challenge: '/kaisar/challenge/1.0.0',
  ledger: '/kaisar/ledger/1.0.0',
  /**
   * A timed bulk transfer to measure throughput (benchmark job, checkers' bandwidth probe).
   * Its own protocol rather than a /kaisar/challenge/1.0.0 message: it is a raw byte stream,
   * not a length-prefixed request.
   */
  bandwidth: '/kaisar/bandwidth/1.0.0',
  /**
   * A relayed provider tells its relay gateway which peers (its lease holders) may reach it
   * through the relay without circuit relay v2's default limits (2 minutes, 128 KiB).
   */
  relayGrant: '/kaisar/relay/1.0.0',
  /** A lease holder asks a provider's gateway for a spliced connection to it (protocols/splice/messages.ts). */
  splice: '/kaisar/splice/1.0.0',
  /** The gateway asks the provider to connect to its splice port with a ticket. */
  spliceOffer: '/kaisar/splice-offer/1.0.0',
  /** An epoch's outcomes, from a node that holds them (the settlement's submitter, any checker or gateway). */
  outcomes: '/kaisar/outcomes/1.0.0'
} as const

export const TOPICS = {
  heartbeat: 'kaisar/heartbeat/1',
  popw: 'kaisar/popw/1',
  ledger: 'kaisar/ledger/1'
} as const
export type TopicName = typeof TOPICS[keyof typeof TOPICS]

/** DHT key namespaces (`/<namespace>/<peer id>`); each has a validator and a selector. */
export const RECORD_NAMESPACES = {
  provider: 'kaisar-provider'
} as const
export type RecordNamespace = typeof RECORD_NAMESPACES[keyof typeof RECORD_NAMESPACES]

/** identify's agent version: `kaisar-node/<version> (<role>)`, so peers learn each other's role. */
export const AGENT_PREFIX = 'kaisar-node/'
