// /kaisar/bandwidth/1.0.0: the far end of a throughput measurement. The sender streams bytes
// for a while and closes its side; the receiver answers with the count (8 bytes, big endian).
// Bounded per stream (bytes and time) and in concurrency, so it cannot be used to flood a node.
import { PROTOCOLS } from '../../protocols/ids.js'
import { sendWithBackpressure } from './streams.js'
import type { ThroughputProbe, ThroughputSample } from '../hardware/benchmark/network.js'
import type { Libp2p, PeerId, Startable, Stream } from '@libp2p/interface'

export const MAX_PROBE_BYTES = 2 * 1024 ** 3
export const MAX_PROBE_MS = 30_000
const CHUNK = new Uint8Array(256 * 1024)

export class BandwidthService implements Startable {
  constructor (private readonly libp2p: Libp2p) {}

  async start (): Promise<void> {
    await this.libp2p.handle(PROTOCOLS.bandwidth, async (stream: Stream) => {
      const deadline = Date.now() + MAX_PROBE_MS
      let bytes = 0
      for await (const chunk of stream) {
        bytes += chunk.byteLength
        if (bytes > MAX_PROBE_BYTES || Date.now() > deadline) { stream.abort(new Error('bandwidth probe over its limit')); return }
      }
      const reply = new Uint8Array(8)
      new DataView(reply.buffer).setBigUint64(0, BigInt(bytes))
      stream.send(reply)
      await stream.close()
    }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(PROTOCOLS.bandwidth)
  }
}

/** Sends to `peer` for about `durationMs`; the sample counts only bytes the peer confirms. */
export async function measureBandwidth (libp2p: Libp2p, peer: PeerId, durationMs: number, signal?: AbortSignal): Promise<ThroughputSample> {
  const stream = await libp2p.dialProtocol(peer, PROTOCOLS.bandwidth, { signal })
  const start = performance.now()
  let sent = 0
  while (performance.now() - start < durationMs && signal?.aborted !== true && sent + CHUNK.byteLength <= MAX_PROBE_BYTES) {
    await sendWithBackpressure(stream, CHUNK)
    sent += CHUNK.byteLength
  }
  await stream.close({ signal })
  let reply = new Uint8Array(0)
  for await (const chunk of stream) reply = new Uint8Array([...reply, ...chunk.subarray()])
  const elapsedMs = performance.now() - start
  if (reply.byteLength !== 8) throw new Error(`bandwidth probe: malformed reply from ${peer.toString()}`)
  return { bytes: Number(new DataView(reply.buffer).getBigUint64(0)), elapsedMs }
}

export function libp2pBandwidthProbe (libp2p: Libp2p, peer: PeerId): ThroughputProbe {
  return { target: peer.toString(), measure: async ({ durationMs, signal }) => await measureBandwidth(libp2p, peer, durationMs, signal) }
}

/** Sends `bytes` to `peer` and times it until the peer confirms the count (checkers' bandwidth probe: a fixed size, not a fixed time). */
export async function measureTransfer (libp2p: Libp2p, peer: PeerId, bytes: number, signal?: AbortSignal): Promise<ThroughputSample> {
  const stream = await libp2p.dialProtocol(peer, PROTOCOLS.bandwidth, { signal })
  const start = performance.now()
  let sent = 0
  while (sent < bytes && signal?.aborted !== true) {
    const chunk = bytes - sent >= CHUNK.byteLength ? CHUNK : CHUNK.subarray(0, bytes - sent)
    await sendWithBackpressure(stream, chunk)
    sent += chunk.byteLength
  }
  await stream.close({ signal })
  let reply = new Uint8Array(0)
  for await (const chunk of stream) reply = new Uint8Array([...reply, ...chunk.subarray()])
  if (reply.byteLength !== 8) throw new Error(`bandwidth probe: malformed reply from ${peer.toString()}`)
  return { bytes: Number(new DataView(reply.buffer).getBigUint64(0)), elapsedMs: performance.now() - start }
}
