// `npm run bench -- node [--size MiB] [--runs N]`: start-to-ready time and idle RSS of one
// node (the real CLI, fresh data dir), and one libp2p stream's throughput and small-request
// RTT between two processes, next to raw TCP between the same two processes, same run.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { sendWithBackpressure } from '../node/network/streams.js'
import { benchNode, log, median, percentile, round, sinkThroughput } from './lib.js'
import { ECHO, SINK } from './peer.js'
import type { KaisarLibp2p } from '../node/network/libp2p.js'
import type { Stream } from '@libp2p/interface'

const CLI = fileURLToPath(new URL('../../bin/kaisar-node.js', import.meta.url))
const PEER = fileURLToPath(new URL('./peer.js', import.meta.url))
const MiB = 1024 * 1024

function arg (args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}

async function rssMiB (pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
  return kb / 1024
}

/** One fresh `kaisar-node start` (a provider without a container engine: the node, not Docker): seconds from spawn to its ready line, and RSS after idling. */
async function startOnce (idleMs: number): Promise<{ readyS: number, rssMiB: number }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kaisar-bench-'))
  const t0 = performance.now()
  const child = spawn(process.execPath, [CLI, 'start', '--json', '--role', 'provider', '--containers', 'none', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await new Promise<void>((resolve, reject) => {
      let out = ''
      child.stdout?.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('"event":"ready"')) resolve() })
      child.once('exit', code => { reject(new Error(`node exited with ${String(code)}`)) })
    })
    const readyS = (performance.now() - t0) / 1000
    await new Promise(resolve => setTimeout(resolve, idleMs))
    return { readyS, rssMiB: await rssMiB(child.pid as number) }
  } finally {
    child.kill('SIGTERM')
    await new Promise(resolve => child.once('exit', resolve))
    await fs.rm(dir, { recursive: true, force: true })
  }
}

async function startPeer (): Promise<{ child: ChildProcess, multiaddr: string, tcpSink: number, tcpEcho: number }> {
  const child = spawn(process.execPath, [PEER], { stdio: ['pipe', 'pipe', 'inherit'] })
  const info = await new Promise<{ multiaddr: string, tcpSink: number, tcpEcho: number }>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); const line = out.split('\n')[0]; if (out.includes('\n') && line != null) resolve(JSON.parse(line)) })
    child.once('exit', code => { reject(new Error(`bench peer exited with ${String(code)}`)) })
  })
  return { child, ...info }
}

const chunk = Buffer.alloc(256 * 1024, 7)

async function streamThroughput (node: KaisarLibp2p, addr: string, bytes: number): Promise<number> {
  const stream = await node.dialProtocol(multiaddr(addr), SINK)
  const t0 = performance.now()
  for (let sent = 0; sent < bytes; sent += chunk.byteLength) await sendWithBackpressure(stream, chunk)
  await stream.close()
  let reply = ''
  for await (const part of stream) reply += new TextDecoder().decode(part.subarray())
  const seconds = (performance.now() - t0) / 1000
  if (Number(reply) !== bytes) throw new Error(`sink counted ${reply} bytes, sent ${bytes}`)
  return bytes / MiB / seconds
}

async function tcpThroughput (port: number, bytes: number): Promise<number> {
  const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  await new Promise(resolve => sock.once('connect', resolve))
  return await sinkThroughput(sock, bytes, chunk, performance.now())
}

const request = Buffer.alloc(64, 1)

async function streamRtts (stream: Stream, n: number): Promise<number[]> {
  const it = stream[Symbol.asyncIterator]()
  const rtts: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    stream.send(request)
    let got = 0
    while (got < request.byteLength) {
      const r = await it.next()
      if (r.done === true) throw new Error('echo stream ended')
      got += r.value.byteLength
    }
    rtts.push(performance.now() - t0)
  }
  return rtts
}

async function tcpRtts (port: number, n: number): Promise<number[]> {
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true })
  await new Promise(resolve => sock.once('connect', resolve))
  const rtts: number[] = []
  let pending: (() => void) | undefined
  let got = 0
  sock.on('data', (d: Buffer) => { got += d.byteLength; if (got >= request.byteLength) { got -= request.byteLength; pending?.() } })
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await new Promise<void>(resolve => { pending = resolve; sock.write(request) })
    rtts.push(performance.now() - t0)
  }
  sock.destroy()
  return rtts
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const sizeMiB = arg(args, '--size', 256)
  const runs = arg(args, '--runs', 3)
  const rttSamples = arg(args, '--rtt-samples', 2000)

  log(`start-to-ready and idle RSS: ${runs} fresh starts`)
  const starts = []
  for (let i = 0; i < runs; i++) starts.push(await startOnce(5_000))

  log('starting the far-end peer process')
  const peer = await startPeer()
  const node = await benchNode()
  try {
    const stream: number[] = []
    const tcp: number[] = []
    for (let i = 0; i < runs; i++) {
      log(`throughput run ${i + 1}/${runs}: ${sizeMiB} MiB over one libp2p stream, then raw TCP`)
      stream.push(await streamThroughput(node, peer.multiaddr, sizeMiB * MiB))
      tcp.push(await tcpThroughput(peer.tcpSink, sizeMiB * MiB))
    }
    log(`small-request RTT: ${rttSamples} × 64 B round trips`)
    const echo = await node.dialProtocol(multiaddr(peer.multiaddr), ECHO)
    await streamRtts(echo, 200) // warm-up
    const streamRtt = (await streamRtts(echo, rttSamples)).sort((a, b) => a - b)
    await echo.close()
    await tcpRtts(peer.tcpEcho, 200)
    const tcpRtt = (await tcpRtts(peer.tcpEcho, rttSamples)).sort((a, b) => a - b)

    return {
      ready_s: round(median(starts.map(s => s.readyS))),
      idle_rss_mib: round(median(starts.map(s => s.rssMiB)), 1),
      stream_MiBps: round(median(stream), 1),
      tcp_MiBps: round(median(tcp), 1),
      stream_vs_tcp: round(median(stream) / median(tcp)),
      stream_rtt_p50_ms: round(percentile(streamRtt, 50)),
      stream_rtt_p99_ms: round(percentile(streamRtt, 99)),
      tcp_rtt_p50_ms: round(percentile(tcpRtt, 50)),
      tcp_rtt_p99_ms: round(percentile(tcpRtt, 99)),
      size_mib: sizeMiB,
      runs
    }
  } finally {
    await node.stop()
    peer.child.stdin?.end()
    await new Promise(resolve => peer.child.once('exit', resolve))
  }
}
