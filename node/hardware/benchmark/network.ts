// Network stage: bytes per second to somebody. Who and how is a ThroughputProbe: the provider
// role measures a libp2p stream to a gateway; standalone (`kaisar-node benchmark`) measures
// TCP over loopback, which tells the local stack's ceiling, not the machine's uplink.
import { once } from 'node:events'
import net from 'node:net'
import type { StageResult } from '../schema.js'
import { round } from './cpu.js'

export interface ThroughputSample {
  /** Bytes that reached the far end. */
  bytes: number
  /** From the first byte sent to the last byte received. */
  elapsedMs: number
}

export interface ThroughputProbe {
  /** What is measured against, for the result ("loopback", a peer id, ...). */
  readonly target: string
  /** Moves data for about `durationMs`; must stop promptly when `signal` aborts. */
  measure: (options: { durationMs: number, signal: AbortSignal }) => Promise<ThroughputSample>
}

export async function benchmarkNetwork (probe: ThroughputProbe, durationMs: number): Promise<StageResult<'network'>> {
  const wallStart = performance.now()
  // A probe that hangs (a peer that stops reading) is cut off well after its budget, whether
  // or not it honours the signal: the job's duration stays bounded.
  const signal = AbortSignal.timeout(durationMs * 3 + 10_000)
  const sample = await Promise.race([probe.measure({ durationMs, signal }), abortion(signal)])
  if (!(sample.bytes > 0 && sample.elapsedMs > 0)) throw new Error(`probe ${probe.target} moved no data (${sample.bytes} bytes in ${sample.elapsedMs} ms)`)
  return {
    status: 'ok',
    durationMs: Math.round(performance.now() - wallStart),
    target: probe.target,
    bytes: sample.bytes,
    throughputMBps: round(sample.bytes / (sample.elapsedMs / 1000) / 1e6)
  }
}

const CHUNK_BYTES = 1024 * 1024

/** TCP to ourselves on 127.0.0.1: a sender writes for `durationMs`, a receiver counts. */
export function loopbackTcpProbe (): ThroughputProbe {
  return {
    target: 'loopback',
    measure: async ({ durationMs, signal }) => {
      const server = net.createServer()
      const sockets = new Set<net.Socket>()
      try {
        server.listen(0, '127.0.0.1')
        await once(server, 'listening', { signal })
        const { port } = server.address() as net.AddressInfo
        const received = new Promise<{ bytes: number, endedAt: number }>((resolve, reject) => {
          server.once('connection', socket => {
            sockets.add(socket)
            let bytes = 0
            socket.on('data', (d: Buffer) => { bytes += d.length })
            socket.once('end', () => { resolve({ bytes, endedAt: performance.now() }) })
            socket.once('error', reject)
          })
        })
        const client = net.connect(port, '127.0.0.1')
        sockets.add(client)
        await once(client, 'connect', { signal })
        const chunk = Buffer.alloc(CHUNK_BYTES, 0xa5)
        const start = performance.now()
        while (performance.now() - start < durationMs) {
          signal.throwIfAborted()
          if (!client.write(chunk)) await once(client, 'drain', { signal })
        }
        client.end()
        const { bytes, endedAt } = await Promise.race([received, abortion(signal)])
        return { bytes, elapsedMs: endedAt - start }
      } finally {
        for (const s of sockets) s.destroy()
        server.close()
      }
    }
  }
}

async function abortion (signal: AbortSignal): Promise<never> {
  return await new Promise((_resolve, reject) => {
    if (signal.aborted) { reject(signal.reason); return }
    signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
  })
}
