// Gossipsub peer scoring. Thresholds are Ethereum's (Lodestar gossip/scoringParameters.ts), except peer exchange's;
// topic parameters are sized for low-volume announcement topics: peers earn a little for
// time in mesh and first deliveries, and lose a lot for invalid messages (P4).
import { TOPICS } from '../../../protocols/ids.js'
import type { GossipsubOpts } from '@libp2p/gossipsub'

type ScoreParams = GossipsubOpts['scoreParams']
type ScoreThresholds = GossipsubOpts['scoreThresholds']

/** The most a peer can earn from its topics (time in mesh, first deliveries). */
const TOPIC_SCORE_CAP = 100

/** Peer exchange is taken only from peers scoring this much: above what topics can earn, so only the bootstrap peers (below). */
const ACCEPT_PX_THRESHOLD = TOPIC_SCORE_CAP + 50

export const SCORE_THRESHOLDS: ScoreThresholds = {
  gossipThreshold: -4000,
  publishThreshold: -8000,
  graylistThreshold: -16000,
  acceptPXThreshold: ACCEPT_PX_THRESHOLD,
  opportunisticGraftThreshold: 5
}

function topicParams (weight: number): NonNullable<ScoreParams['topics']>[string] {
  return {
    topicWeight: weight,
    timeInMeshWeight: 0.03,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 300,
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 50,
    // P3 (mesh delivery deficit) is off: these topics are quiet by design, and a quiet
    // mesh peer is not a misbehaving one.
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.9,
    meshMessageDeliveriesCap: 10,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 60_000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.9,
    // A few forged or malformed messages push a peer below the gossip threshold (-4000):
    // score = weight * count^2 * topicWeight.
    invalidMessageDeliveriesWeight: -100,
    invalidMessageDeliveriesDecay: 0.99
  }
}

/**
 * Application score of the operator's bootstrap peers (the gateways): exactly what lets a node
 * accept their peer exchange. The gossipsub v1.1 spec asks for this: PX should be accepted from
 * heavily connected bootstrappers only. A node knows those by its own configuration; no other
 * peer can earn this much from its topics, so none can steer a node's connections this way.
 */
const BOOTSTRAP_APP_SCORE = ACCEPT_PX_THRESHOLD

export function scoreParams (ipColocationWhitelist: readonly string[] = [], bootstrapPeers: readonly string[] = []): ScoreParams {
  const bootstrap = new Set(bootstrapPeers)
  return {
    appSpecificScore: peer => bootstrap.has(peer) ? BOOTSTRAP_APP_SCORE : 0,
    topics: {
      [TOPICS.heartbeat]: topicParams(0.5),
      [TOPICS.popw]: topicParams(1),
      [TOPICS.ledger]: topicParams(1)
    },
    topicScoreCap: TOPIC_SCORE_CAP,
    appSpecificWeight: 1,
    // Many peers behind one IP is a Sybil signal on the internet; loopback and the
    // operator's own hosts are exempt, or a devnet would graylist itself.
    IPColocationFactorWeight: -50,
    IPColocationFactorThreshold: 8,
    IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1', ...ipColocationWhitelist]),
    behaviourPenaltyWeight: -10,
    behaviourPenaltyThreshold: 6,
    behaviourPenaltyDecay: 0.9,
    decayInterval: 1000,
    decayToZero: 0.01,
    retainScore: 60 * 60 * 1000
  }
}
