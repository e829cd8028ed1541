// network.keepAliveMs reaches Yamux: the configured interval is the one each connection pings
// at, 0 turns the pings off, and the default stays Yamux's own 30 s (what a real node needs
// for NAT mappings; only the simulator stretches it, sim/cluster.ts).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { configSchema } from '../../node/config/schema.js'
import { startTestNode, tapYamuxFrames, YAMUX_FLAG, YAMUX_FRAME } from '../helpers/network.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'

/** Two memory-transport nodes, the dialler built with `keepAliveMs`; Yamux pings it starts in `forMs`. */
async function pingsSent (keepAliveMs: number | undefined, forMs: number): Promise<number> {
  const nodes: KaisarLibp2p[] = []
  try {
    const listener = await startTestNode(nodes, { listen: [`/memory/keep-alive-${process.pid}-${keepAliveMs ?? 'default'}`], keepAliveMs: 0 })
    const dialler = await startTestNode(nodes, { listen: [], ...(keepAliveMs != null ? { keepAliveMs } : {}) })
    let pings = 0
    const conn = await dialler.dial(listener.getMultiaddrs()[0] as NonNullable<ReturnType<typeof listener.getMultiaddrs>[0]>)
    tapYamuxFrames(conn, (type, flag) => { if (type === YAMUX_FRAME.ping && flag === YAMUX_FLAG.syn) pings++ })
    const muxer = (conn as unknown as { muxer: { keepAliveInterval: number, enableKeepAlive: boolean } }).muxer
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
