// network.keepAliveMs reaches Yamux: the configured interval is the one each connection pings
// at, 0 turns the pings off, and the default stays Yamux's own 30 s (what a real node needs
// for NAT mappings; only the simulator stretches it, sim/cluster.ts).
import { generateKeyPair } from '@libp2p/crypto/keys'
import { MemoryLevel } from 'memory-level'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { configSchema } from '../../node/config/schema.js'
import { NodeMetrics } from '../../node/metrics/registry.js'
import { createNetwork, type KaisarLibp2p } from '../../node/network/libp2p.js'
import { RecordVersionIndex, recordValidators } from '../../node/network/records/validators.js'

const YAMUX_PING = 2
const YAMUX_SYN = 1

/** Two memory-transport nodes, the dialler built with `keepAliveMs`; Yamux pings it starts in `forMs`. */
async function pingsSent (keepAliveMs: number | undefined, forMs: number): Promise<number> {
  const nodes: KaisarLibp2p[] = []
  try {
    const make = async (listen: string[], keepAlive?: number): Promise<KaisarLibp2p> => {
      const node = await createNetwork({
        privateKey: await generateKeyPair('Ed25519'), listen, transport: 'memory', agentVersion: 'kaisar-test', connectionMonitorMs: 0,
        ...(keepAlive != null ? { keepAliveMs: keepAlive } : {}),
        maxConnections: 10, inboundConnectionThreshold: 10, dhtServer: false, relayServer: false, autonat: false, dcutr: false,
        records: recordValidators(new RecordVersionIndex(new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })), new NodeMetrics())
      })
      nodes.push(node)
      await node.start()
      return node
    }
    const listener = await make([`/memory/keep-alive-${process.pid}-${keepAliveMs ?? 'default'}`], 0)
    const dialler = await make([], keepAliveMs)
    let pings = 0
    const conn = await dialler.dial(listener.getMultiaddrs()[0] as NonNullable<ReturnType<typeof listener.getMultiaddrs>[0]>)
    const muxer = (conn as unknown as { muxer: { sendFrame: (h: { type: number, flag: number }, d?: unknown) => boolean, keepAliveInterval: number, enableKeepAlive: boolean } }).muxer
    const sendFrame = muxer.sendFrame.bind(muxer)
    muxer.sendFrame = (h, d) => {
      if (h.type === YAMUX_PING && h.flag === YAMUX_SYN) pings++
      return sendFrame(h, d)
    }
    await new Promise(resolve => setTimeout(resolve, forMs))
    if (keepAliveMs == null) {
      assert.ok(muxer.enableKeepAlive, 'keep-alive on by default')
      assert.is(muxer.keepAliveInterval, 30_000, 'Yamux\'s own interval by default')
    }
    return pings
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
}

test('Yamux pings at network.keepAliveMs, not at all with 0, every 30 s by default', async () => {
  const every100 = await pingsSent(100, 650)
  assert.ok(every100 >= 4 && every100 <= 8, `${every100} pings in 650 ms at 100 ms`)
  assert.is(await pingsSent(0, 400), 0, 'keepAliveMs 0 sent pings')
  assert.is(await pingsSent(undefined, 300), 0, 'the default pinged within 300 ms')
  assert.is(configSchema.parse({ role: 'provider', dataDir: '/nonexistent', listen: [], api: '127.0.0.1:0' }).network.keepAliveMs, 30_000, 'the config\'s default')
})

test.run()
