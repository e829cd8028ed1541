// Small in-process nodes built by the product's own createNetwork (memory transport, no DHT
// server, relay, AutoNAT or DCUtR unless asked), for unit tests of the network stack; and a tap
// on the Yamux frames a connection sends.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { MemoryLevel } from 'memory-level'
import { NodeMetrics } from '../../node/metrics/registry.js'
import { createNetwork, type KaisarLibp2p, type NetworkInit } from '../../node/network/libp2p.js'
import { RecordVersionIndex, recordValidators } from '../../node/network/records/validators.js'
import type { Connection } from '@libp2p/interface'

/** Builds and starts a node; `started` collects it so the test's `finally` can stop them all. */
export async function startTestNode (started: KaisarLibp2p[], init: Partial<NetworkInit> & { listen: string[] }): Promise<KaisarLibp2p> {
  const node = await createNetwork({
    privateKey: await generateKeyPair('Ed25519'), transport: 'memory', agentVersion: 'kaisar-test', connectionMonitorMs: 0,
    maxConnections: 10, inboundConnectionThreshold: 10, dhtServer: false, relayServer: false, autonat: false, dcutr: false,
    records: recordValidators(new RecordVersionIndex(new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })), new NodeMetrics()),
    ...init
  })
  started.push(node)
  await node.start()
  return node
}

export const YAMUX_FRAME = { data: 0, windowUpdate: 1, ping: 2 } as const
export const YAMUX_FLAG = { none: 0, syn: 1 } as const

/** Calls `seen` with the type and flag of every Yamux frame `conn` sends from now on. */
export function tapYamuxFrames (conn: Connection, seen: (type: number, flag: number) => void): void {
  const muxer = (conn as unknown as { muxer: { sendFrame: (h: { type: number, flag: number }, d?: unknown) => boolean } }).muxer
  const sendFrame = muxer.sendFrame.bind(muxer)
  muxer.sendFrame = (h, d) => {
    seen(h.type, h.flag)
    return sendFrame(h, d)
  }
}
