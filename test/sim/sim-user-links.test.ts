// The simulator's end users (sim/user.ts) reach the network the way every other node of their
// process does: over the run's in-process links (memory within the process, a trunk to another),
// unencrypted like those. Before, a user dialled over kernel TCP with Noise: at 1,000 nodes the
// runner's 8 users held 1,300 sockets and their handshakes and encryption were 5 % of a worker
// (sim/README.md, stop 31).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Cluster } from '../../sim/cluster.js'
import { startSimUser } from '../../sim/user.js'
import { InProcessLinks } from '../../node/network/in-process-links.js'
import { NOISE_AESGCM_PROTOCOL } from '../../node/network/noise-aesgcm.js'
import { simPopw, testLogger } from '../helpers/popw.js'
import type { UserNode } from '../../node/user/user-node.js'

let cluster: Cluster | undefined
const users: UserNode[] = []
test.after(async () => {
  for (const u of users) await u.close()
  await cluster?.stop()
})

test('a simulated user dials the gateway over the in-process links it is given, and over TCP with Noise without them', async () => {
  const links = new InProcessLinks()
  cluster = await Cluster.start({ transport: 'tcp', inProcessLinks: links, logger: testLogger(), nodes: [{ role: 'gateway', config: { popw: simPopw() } }] })
  const gateway = cluster.byRole('gateway')[0]?.node
  assert.ok(gateway != null)
  const tcpAddr = gateway.addresses().find(a => a.startsWith('/ip4/127.0.0.1/tcp/'))
  assert.ok(tcpAddr != null, `the gateway listens on loopback TCP: ${gateway.addresses().join(', ')}`)
  const addr = tcpAddr.includes('/p2p/') ? tcpAddr : `${tcpAddr}/p2p/${gateway.peerId}`

  const opened = links.opened
  const linked = await startSimUser([addr], addr, undefined, 'tcp', links)
  users.push(linked)
  const viaLinks = linked.libp2p.getConnections(gateway.libp2p.peerId)
  assert.is(viaLinks.length, 1)
  assert.is(viaLinks[0]?.encryption, 'native', 'an in-process link, unencrypted as every other in the process')
  assert.ok(links.opened > opened, 'the dial went through the registry')
  // The ledger host answers over it (the user's first request places no order, it reads).
  assert.ok((await linked.ledger.head()).height >= 0)

  const outsider = await startSimUser([addr], addr, undefined, 'tcp')
  users.push(outsider)
  assert.is(outsider.libp2p.getConnections(gateway.libp2p.peerId)[0]?.encryption, NOISE_AESGCM_PROTOCOL, 'a user without the registry still dials over TCP with Noise')
})

test.run()
