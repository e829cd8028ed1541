// Small in-process nodes built by the product's own createNetwork (memory transport, no DHT
// server, relay, AutoNAT or DCUtR unless asked), for unit tests of the network stack; and a tap
// on the Yamux frames a connection sends.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { MemoryLevel } from 'memory-level'
import { NodeMetrics } from '../../node/metrics/registry.js'
import { createNetwork, type KaisarLibp2p, type NetworkInit } from '../../node/network/libp2p.js'
import { RecordVersionIndex, recordValidators } from '../../node/network/records/validators.js'
import { Uint8ArrayList } from 'uint8arraylist'
import type { Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

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

/** A protocol that sends back every byte it gets and closes when the other side does (see `echo`). */
export const ECHO_PROTOCOL = '/kaisar-test/echo/1.0.0'

export async function handleEcho (node: KaisarLibp2p): Promise<void> {
  await node.handle(ECHO_PROTOCOL, (stream) => {
    stream.addEventListener('message', (evt) => { stream.send(evt.data) })
    stream.addEventListener('remoteCloseWrite', () => { void stream.close() })
  })
}

/** Sends `data` over a new ECHO_PROTOCOL stream from `from` to `to`, honouring backpressure; returns what came back. */
export async function echo (from: KaisarLibp2p, to: Multiaddr, data: Uint8Array): Promise<Uint8Array> {
  const stream = await from.dialProtocol(to, ECHO_PROTOCOL)
  const back = new Uint8ArrayList()
  const done = new Promise<void>((resolve, reject) => {
    stream.addEventListener('message', (evt) => { back.append(evt.data) })
    stream.addEventListener('remoteCloseWrite', () => { resolve() })
    stream.addEventListener('close', (evt) => { if (evt.error != null) reject(evt.error) })
  })
  for (let i = 0; i < data.byteLength; i += 100_000) {
    if (!stream.send(data.subarray(i, i + 100_000))) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
  }
  await stream.close()
  await done
  return back.subarray()
}
