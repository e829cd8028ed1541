// gossipsub peer exchange from the gateways (node/network/libp2p.ts, gossip/scoring.ts): nodes
// that reach each other only through a gateway, as checkers do after their bootstrap dial,
// mesh through the gateway alone; with more subscribers than its mesh holds (12), it prunes
// the rest and names them other subscribers, and they connect to each other. A node accepts
// that only from its own bootstrap peers.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { TOPICS } from '../../protocols/ids.js'
import { startTestNode } from '../helpers/network.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'

const SUBSCRIBERS = 18

/**
 * A gateway and SUBSCRIBERS nodes that each dial only the gateway and subscribe to the
 * heartbeat topic; returns, after `forMs`, how many subscribers hold a connection to another.
 */
async function subscribersConnectedToEachOther (opts: { gatewayPx: boolean, acceptFromGateway: boolean }, forMs: number): Promise<number> {
  const nodes: KaisarLibp2p[] = []
  const tag = `${process.pid}-${String(opts.gatewayPx)}-${String(opts.acceptFromGateway)}`
  try {
    const make = async (name: string, init: { px: boolean, bootstrapPeers: string[] }): Promise<KaisarLibp2p> => await startTestNode(nodes, {
      listen: [`/memory/px-${tag}-${name}`], maxConnections: 100, inboundConnectionThreshold: 100,
      gossipHeartbeatMs: 100, gossipPeerExchange: init.px, bootstrapPeers: init.bootstrapPeers
    })
    const gateway = await make('gateway', { px: opts.gatewayPx, bootstrapPeers: [] })
    gateway.services.pubsub.subscribe(TOPICS.heartbeat)
    const address = gateway.getMultiaddrs()[0]
    if (address == null) throw new Error('the gateway has no address')
    const subscribers: KaisarLibp2p[] = []
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const s = await make(`s${i}`, { px: false, bootstrapPeers: opts.acceptFromGateway ? [gateway.peerId.toString()] : [] })
      s.services.pubsub.subscribe(TOPICS.heartbeat)
      await s.dial(address)
      subscribers.push(s)
    }
    await new Promise(resolve => setTimeout(resolve, forMs))
    const ids = new Set(subscribers.map(s => s.peerId.toString()))
    return subscribers.filter(s => s.getConnections().some(c => ids.has(c.remotePeer.toString()))).length
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
}

test('subscribers a gateway prunes from its mesh connect to the peers it names', async () => {
  const connected = await subscribersConnectedToEachOther({ gatewayPx: true, acceptFromGateway: true }, 3_000)
  // The gateway keeps 6–12 in its mesh; everyone it pruned connected elsewhere, and the ones
  // it named were connected to in turn.
  assert.ok(connected >= SUBSCRIBERS - 2, `${connected} of ${SUBSCRIBERS} subscribers connected to another subscriber`)
})

test('without peer exchange, or from a peer that is not its bootstrap peer, nobody connects', async () => {
  assert.is(await subscribersConnectedToEachOther({ gatewayPx: false, acceptFromGateway: true }, 1_500), 0, 'no PX offered')
  assert.is(await subscribersConnectedToEachOther({ gatewayPx: true, acceptFromGateway: false }, 1_500), 0, 'PX accepted from a peer that is not a bootstrap peer')
})

test.run()
