// gossipsub's mesh degrees as a node setting (config network.gossipMesh, node/network/libp2p.ts):
// the defaults are gossipsub's own, a bad set is refused before a node starts, and a set that is
// given bounds the mesh a node keeps.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../node/config/load.js'
import { gossipMeshSchema, type GossipMesh } from '../../node/config/schema.js'
import { ConfigError } from '../../node/errors.js'
import { TOPICS } from '../../protocols/ids.js'
import { SimFlagError, parseGossipMesh } from '../../sim/options.js'
import { startTestNode } from '../helpers/network.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'

/** Public members of gossipsub's implementation class (dist/src/gossipsub.d.ts) that its exported interface leaves out. */
interface MeshView {
  opts: { D: number, Dlo: number, Dhi: number, Dlazy: number, Dout: number, Dscore: number }
  getMeshPeers: (topic: string) => string[]
}
const meshView = (node: KaisarLibp2p): MeshView => node.services.pubsub as unknown as MeshView

const SUBSCRIBERS = 10
const SMALL: GossipMesh = { d: 2, dLow: 1, dHigh: 3, dLazy: 2, dOut: 0, dScore: 1 }

/** A hub and SUBSCRIBERS nodes that dial it and subscribe to one topic; the hub's mesh size for it after `forMs`. */
async function hubMeshSize (mesh: GossipMesh | undefined, forMs: number): Promise<{ mesh: number, opts: MeshView['opts'] }> {
  const nodes: KaisarLibp2p[] = []
  const tag = `${process.pid}-${mesh?.d ?? 'default'}`
  try {
    const make = async (name: string): Promise<KaisarLibp2p> => await startTestNode(nodes, {
      listen: [`/memory/mesh-${tag}-${name}`], maxConnections: 100, inboundConnectionThreshold: 100, gossipHeartbeatMs: 100,
      ...(mesh != null ? { gossipMesh: mesh } : {})
    })
    const hub = await make('hub')
    hub.services.pubsub.subscribe(TOPICS.heartbeat)
    const address = hub.getMultiaddrs()[0]
    if (address == null) throw new Error('the hub has no address')
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const s = await make(`s${i}`)
      s.services.pubsub.subscribe(TOPICS.heartbeat)
      await s.dial(address)
    }
    await new Promise(resolve => setTimeout(resolve, forMs))
    const view = meshView(hub)
    return { mesh: view.getMeshPeers(TOPICS.heartbeat).length, opts: view.opts }
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
}

test('the config\'s defaults are gossipsub\'s own degrees', async () => {
  const { opts } = await hubMeshSize(undefined, 0)
  const defaults = gossipMeshSchema.parse({})
  assert.equal(
    { d: opts.D, dLow: opts.Dlo, dHigh: opts.Dhi, dLazy: opts.Dlazy, dOut: opts.Dout, dScore: opts.Dscore },
    defaults
  )
})

test('a node keeps its mesh within the degrees it is given', async () => {
  const small = await hubMeshSize(SMALL, 1_500)
  assert.equal([small.opts.D, small.opts.Dlo, small.opts.Dhi], [2, 1, 3])
  assert.ok(small.mesh >= SMALL.dLow && small.mesh <= SMALL.dHigh, `mesh of ${small.mesh} outside ${SMALL.dLow}..${SMALL.dHigh}`)
  // With gossipsub's own degrees the same hub meshes with more than 3 of its 10 subscribers.
  const stock = await hubMeshSize(undefined, 1_500)
  assert.ok(stock.mesh > SMALL.dHigh, `stock mesh of ${stock.mesh}`)
})

test('a set of degrees gossipsub cannot keep is refused, naming the rule', () => {
  const bad: Array<[Partial<GossipMesh>, RegExp]> = [
    [{ d: 4, dLow: 5 }, /dLow ≤ d ≤ dHigh/],
    [{ d: 13 }, /dLow ≤ d ≤ dHigh/],
    [{ dOut: 4 }, /dOut < dLow/],
    [{ d: 4, dLow: 4, dOut: 3 }, /dOut ≤ d\/2/],
    [{ dScore: 7 }, /dScore ≤ d/]
  ]
  for (const [mesh, why] of bad) {
    const parsed = gossipMeshSchema.safeParse(mesh)
    assert.not.ok(parsed.success, JSON.stringify(mesh))
    assert.match(parsed.error?.issues.map(i => i.message).join('; ') ?? '', why)
  }
  assert.not.ok(gossipMeshSchema.safeParse({ d: 4, degree: 3 }).success, 'an unknown key')
})

test('an operator sets the degrees through the environment (or the config file); a bad set is a config error', async () => {
  const config = await loadConfig({ env: { KAISAR_ROLE: 'checker', KAISAR_NETWORK_GOSSIP_MESH_D: '4', KAISAR_NETWORK_GOSSIP_MESH_D_LOW: '3' } })
  assert.equal(config.network.gossipMesh, { ...gossipMeshSchema.parse({}), d: 4, dLow: 3 })
  try {
    await loadConfig({ env: { KAISAR_ROLE: 'checker', KAISAR_NETWORK_GOSSIP_MESH_D: '20' } })
    assert.unreachable('d 20 above dHigh 12 was accepted')
  } catch (err) {
    assert.instance(err, ConfigError)
    assert.match((err as Error).message, /network\.gossipMesh: needs dLow ≤ d ≤ dHigh/)
  }
})

test('sim --gossip-mesh takes KEY=N pairs and keeps gossipsub\'s own for the rest', () => {
  assert.equal(parseGossipMesh('d=4,dLow=3,dHigh=6,dLazy=4,dOut=1,dScore=2'), { d: 4, dLow: 3, dHigh: 6, dLazy: 4, dOut: 1, dScore: 2 })
  assert.equal(parseGossipMesh('dLazy=3'), { ...gossipMeshSchema.parse({}), dLazy: 3 })
  for (const text of ['d=4,dLow=5', 'd:4', 'd=-1', 'size=4']) {
    assert.throws(() => parseGossipMesh(text), (err: unknown) => err instanceof SimFlagError && err.message.startsWith('--gossip-mesh'), text)
  }
})

test.run()
