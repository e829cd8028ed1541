// node/network/bootstrap.ts: a bootstrap connection whose identify failed is identified again,
// so the node's DHT gets its first peer (otherwise kad-dht's first self-query waits for one
// forever, and every query of the node behind it).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { BootstrapDialer } from '../../node/network/bootstrap.js'
import { createLogger } from '../../node/log.js'
import { startTestNode } from '../helpers/network.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Provider records some other peer took for `node`'s provide of a fresh key, within `ms`. */
async function provideHeld (node: KaisarLibp2p, ms: number): Promise<number> {
  const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`bootstrap-identify ${Math.random()}`)))
  let held = 0
  try {
    for await (const event of node.services.dht.provide(cid, { signal: AbortSignal.timeout(ms) })) {
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') held++
    }
  } catch {}
  return held
}

test('a node whose identify of its bootstrap peer failed identifies it again and gets into the DHT', async () => {
  const nodes: KaisarLibp2p[] = []
  let dialer: BootstrapDialer | undefined
  try {
    const server = await startTestNode(nodes, { listen: [`/memory/bootstrap-identify-${process.pid}`], dhtServer: true })
    const client = await startTestNode(nodes, { listen: [] })
    // libp2p's own identify on opening the connection fails, as it does when the peer is too busy
    // to answer within 5 s; later ones go through.
    const identify = client.services.identify
    const real = identify.identify.bind(identify)
    let calls = 0
    identify.identify = async (connection, options) => {
      if (++calls === 1) throw new Error('identify timed out (the test\'s)')
      return await real(connection, options)
    }
    const addr = server.getMultiaddrs()[0] as Multiaddr
    dialer = new BootstrapDialer({ libp2p: client, logger: createLogger('silent') }, { peers: [addr.toString()], identifyCheckMs: 300 })
    await dialer.start()
    await dialer.waitForAny(AbortSignal.timeout(5_000))

    assert.ok(await provideHeld(client, 10_000) > 0, 'the server took the client\'s provider record')
    assert.is(calls, 2, 'identified once more, not on every check')
  } finally {
    await dialer?.stop()
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test('a bootstrap connection identified the first time is not identified again', async () => {
  const nodes: KaisarLibp2p[] = []
  let dialer: BootstrapDialer | undefined
  try {
    const server = await startTestNode(nodes, { listen: [`/memory/bootstrap-identify-ok-${process.pid}`], dhtServer: true })
    const client = await startTestNode(nodes, { listen: [] })
    const identify = client.services.identify
    const real = identify.identify.bind(identify)
    let calls = 0
    identify.identify = async (connection, options) => { calls++; return await real(connection, options) }
    const addr = server.getMultiaddrs()[0] as Multiaddr
    dialer = new BootstrapDialer({ libp2p: client, logger: createLogger('silent') }, { peers: [addr.toString()], identifyCheckMs: 300 })
    await dialer.start()
    await dialer.waitForAny(AbortSignal.timeout(5_000))
    assert.ok(await provideHeld(client, 10_000) > 0, 'the server took the client\'s provider record')
    await new Promise(resolve => setTimeout(resolve, 1_000))
    assert.is(calls, 1)
  } finally {
    await dialer?.stop()
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test.run()
