// Shared pieces of the benchmarks: an in-memory-state libp2p node built by the product's
// own builder, statistics, and timing helpers.
import { generateKeyPair } from '@libp2p/crypto/keys'
import type net from 'node:net'
import { MemoryLevel } from 'memory-level'
import { NodeMetrics } from '../node/metrics/registry.js'
import { Registry } from 'prom-client'
import { createNetwork, type KaisarLibp2p } from '../node/network/libp2p.js'
import { RecordVersionIndex, recordValidators } from '../node/network/records/validators.js'
import type { InProcessLinks } from '../node/network/in-process-links.js'
import type { StreamTuning } from '../node/network/stream-tuning.js'
import type { StateDb } from '../node/store/state-db.js'

export interface BenchNodeOptions {
  listen?: string[]
  /** Default: createNetwork's own default (DEFAULT_TUNING). */
  tuning?: StreamTuning
  relayServer?: boolean
  relayUnlimited?: boolean
  /** Attach libp2p's Prometheus metrics, as a real node does (default true). */
  metrics?: boolean
  /** Default 'tcp'; 'memory' for many nodes in one process, as the simulator runs them. */
  transport?: 'tcp' | 'memory'
  /** Default false (a DHT client). */
  dhtServer?: boolean
  /** Connection limit, inbound threshold alike (default 100). */
  maxConnections?: number
  /** Default createNetwork's (on). */
  peerStoreReadCache?: boolean
  /** TCP: this process's registry of nodes (node/network/in-process-links.ts); absent: kernel TCP. */
  inProcessLinks?: InProcessLinks
}

/** The production libp2p stack (TCP or memory, Noise, Yamux, ...) without persistence, for benchmarks. */
export async function benchNode (listenOrOptions: string[] | BenchNodeOptions = {}): Promise<KaisarLibp2p> {
  const opts: BenchNodeOptions = Array.isArray(listenOrOptions) ? { listen: listenOrOptions } : listenOrOptions
  const db: StateDb = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
  const node = await createNetwork({
    privateKey: await generateKeyPair('Ed25519'), listen: opts.listen ?? ['/ip4/127.0.0.1/tcp/0'], transport: opts.transport ?? 'tcp', websockets: false, agentVersion: 'kaisar-bench',
    maxConnections: opts.maxConnections ?? 100, inboundConnectionThreshold: opts.maxConnections ?? 100, dhtServer: opts.dhtServer ?? false, relayServer: opts.relayServer ?? false, autonat: false, dcutr: false,
    records: recordValidators(new RecordVersionIndex(db), new NodeMetrics()),
    ...(opts.peerStoreReadCache != null ? { peerStoreReadCache: opts.peerStoreReadCache } : {}),
    ...(opts.inProcessLinks != null ? { inProcessLinks: opts.inProcessLinks } : {}),
    ...(opts.metrics !== false ? { metricsRegistry: new Registry() } : {}),
    ...(opts.tuning != null ? { tuning: opts.tuning } : {}),
    ...(opts.relayUnlimited != null ? { relayUnlimited: opts.relayUnlimited } : {})
  })
  await node.start()
  return node
}

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))] as number
}

export function median (values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50)
}

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits))

/** `--name N` from a bench's arguments: a positive integer, or `fallback` when absent. */
export function positiveIntFlag (args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name)
  if (i < 0) return fallback
  const value = Number(args[i + 1])
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`)
  return value
}

export function log (msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`)
}

/**
 * Writes `bytes` in `chunk`s to a counting sink (it answers with the byte count when the
 * write side ends), honouring backpressure, and returns MiB/s from `startedAt` to the answer.
 */
export async function sinkThroughput (sock: net.Socket, bytes: number, chunk: Buffer, startedAt: number): Promise<number> {
  for (let sent = 0; sent < bytes; sent += chunk.byteLength) {
    if (!sock.write(chunk)) await new Promise(resolve => sock.once('drain', resolve))
  }
  sock.end()
  let reply = ''
  for await (const part of sock) reply += String(part)
  const seconds = (performance.now() - startedAt) / 1000
  if (Number(reply) !== bytes) throw new Error(`sink counted ${reply} bytes, sent ${bytes} (port ${sock.remotePort ?? '?'})`)
  return bytes / (1024 * 1024) / seconds
}
