// One end-to-end lease across real namespaces: a gateway (relay server, ledger host) and a user
// on the public LAN, a provider behind the NAT router with no public address (it listens only
// through the gateway's relay). The user orders with the real CLI, gets "deployed", opens
// `kaisar-node connect` and sends an HTTP request through the tunnel. Each step is timed, and
// which TCP connections existed is read from each namespace's /proc/net/tcp, so the summary says
// what carried the bytes (relay or a direct, hole-punched connection), measured, not assumed.
import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkNetnsSupport, NetnsTopology, pidAlive, removeStale, type LinkShape } from './topology.js'

const CLI = fileURLToPath(new URL('../../../bin/kaisar-node.js', import.meta.url))
const GATEWAY_P2P_PORT = 4001
const GATEWAY_API_PORT = 8080
const PROVIDER_API = '127.0.0.1:7001'
const CONTAINER_PORT = 80

export interface ScenarioOptions extends LinkShape {
  /** Leave namespaces, processes and data dirs in place at the end (to look around); Ctrl-C still removes them. */
  keep?: boolean
  /** Every wait's limit, ms. */
  timeoutMs?: number
  log?: (line: string) => void
  /** Names the namespaces (kz<runId>-…); must start with this process's pid (default: the pid). */
  runId?: string
}

/** One TCP connection a namespace had, from its /proc/net/tcp. */
export interface TcpConnection { local: string, remote: string }

export interface ScenarioSummary {
  runId: string
  link: LinkShape
  /** Namespaces, veths, bridge, NAT, shaping: seconds. */
  setupS: number
  /** Gateway, then provider registered, provided in the DHT and reachable through the relay: seconds. */
  nodesReadyS: number
  /** Median TCP connect time user → gateway (both egress delays: ≈ 2 × latency), ms. */
  tcpConnectMs: number
  gateway: { peerId: string, address: string }
  provider: { peerId: string, lanAddress: string, addresses: string[], allRelayed: boolean }
  /** The user's namespace could not open a TCP connection to the provider's address. */
  providerUnreachableDirectly: boolean
  lease: { leaseId: string, events: string[] }
  /** `kaisar-node order` from start to its "deployed" result: seconds. */
  orderToDeployedS: number
  /** First HTTP request through `kaisar-node connect`: seconds, and the body. */
  tunnelFirstResponseS: number
  httpBody: string
  /** TCP connections in the user's and the provider's namespaces after the request. */
  userConnections: TcpConnection[]
  providerConnections: TcpConnection[]
  /** Bytes went user ↔ gateway ↔ provider only: no TCP connection between the user and the NAT's public side. */
  viaRelay: boolean
  /** The tunnel ran over a spliced connection through the gateway's splice port. */
  spliced: boolean
  /** The path `kaisar-node connect` reported (direct, spliced, relayed). */
  connectPath: string
  /** A direct connection between the user and the provider (through the NAT) existed: DCUtR upgraded. */
  dcutrUpgraded: boolean
  totalS: number
}

interface RunningNode { name: string, proc: ChildProcess, stderr: () => string, ready: { peerId: string, addresses: string[], api: string } }

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const seconds = (since: number): number => Math.round((Date.now() - since) / 10) / 100

/** "0A004D0A:0FA1" (little-endian IPv4 : port, as /proc/net/tcp writes it) → "10.77.0.10:4001". */
export function decodeProcAddress (hex: string): string {
  const [ip = '', port = '0'] = hex.split(':')
  const bytes = (ip.match(/../g) ?? []).map(b => parseInt(b, 16)).reverse()
  return `${bytes.join('.')}:${parseInt(port, 16)}`
}

/** Established TCP connections in /proc/net/tcp text (state 01). */
export function establishedConnections (procNetTcp: string): TcpConnection[] {
  return procNetTcp.split('\n').slice(1).map(l => l.trim().split(/\s+/)).filter(f => f[3] === '01')
    .map(f => ({ local: decodeProcAddress(f[1] ?? ''), remote: decodeProcAddress(f[2] ?? '') }))
}

/** Data dirs (`<tmp>/kz<pid>-…`) of runs whose process is gone. */
export async function removeStaleDataDirs (): Promise<string[]> {
  const removed: string[] = []
  for (const name of await fsp.readdir(os.tmpdir())) {
    const m = /^kz(\d+)-[A-Za-z0-9]{6}$/.exec(name)
    if (m == null || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue
    await fsp.rm(path.join(os.tmpdir(), name), { recursive: true, force: true })
    removed.push(name)
  }
  return removed
}

export class NetnsScenario {
  private topo?: NetnsTopology
  private readonly procs: ChildProcess[] = []
  private dataRoot?: string
  private readonly log: (line: string) => void
  private readonly timeoutMs: number

  constructor (private readonly opts: ScenarioOptions) {
    this.log = opts.log ?? (() => {})
    this.timeoutMs = opts.timeoutMs ?? 90_000
  }

  get topology (): NetnsTopology | undefined { return this.topo }

  async run (): Promise<ScenarioSummary> {
    const started = Date.now()
    const stale = [...await removeStale(), ...await removeStaleDataDirs()]
    if (stale.length > 0) this.log(`removed what earlier runs left: ${stale.join(', ')}`)
    await checkNetnsSupport()
    const link = { latencyMs: this.opts.latencyMs, lossPercent: this.opts.lossPercent }
    // Held before it is built: a SIGINT during the build removes what exists so far.
    const topo = this.topo = NetnsTopology.plan({ ...link, publicHosts: ['gateway', 'user'], natHosts: ['provider'] }, this.opts.runId)
    await topo.build()
    const setupS = seconds(started)
    this.log(`network up in ${setupS} s (${link.latencyMs} ms, ${link.lossPercent} % per hop)`)
    this.dataRoot = await fsp.mkdtemp(path.join(os.tmpdir(), `kz${process.pid}-`))

    const nodesStarted = Date.now()
    const gwHost = topo.host('gateway')
    const gateway = await this.startNode('gateway', [
      '--role', 'gateway', '--listen', `/ip4/${gwHost.address}/tcp/${GATEWAY_P2P_PORT}`, '--api', `${gwHost.address}:${GATEWAY_API_PORT}`, '--ledger-host'
    ])
    const gwAddr = `/ip4/${gwHost.address}/tcp/${GATEWAY_P2P_PORT}/p2p/${gateway.ready.peerId}`
    // No TCP listener at all: like a machine behind a home router, reachable only through a relay reservation.
    const provider = await this.startNode('provider', [
      '--role', 'provider', '--listen', '/p2p-circuit', '--api', PROVIDER_API, '--bootstrap', gwAddr,
      '--containers', 'memory', '--benchmark', 'skip', '--heartbeat-interval', '2000'
    ])
    const status = await this.waitFor('provider registered, announced and relayed', async () => {
      const s = JSON.parse(await this.nsFetch('provider', `http://${PROVIDER_API}/api/v1/status`)) as { addresses: string[], provider?: { registered: boolean, capabilitiesPending: number } }
      return s.addresses.length > 0 && s.addresses.every(a => a.includes('/p2p-circuit')) && s.provider?.registered === true && s.provider.capabilitiesPending === 0 ? s : undefined
    })
    const nodesReadyS = seconds(nodesStarted)
    // The shaping is real: a TCP handshake user → gateway takes both hosts' egress delay.
    const tcpConnectMs = await this.tcpConnectMs('user', gwHost.address, GATEWAY_P2P_PORT)
    this.log(`gateway and provider ready in ${nodesReadyS} s; provider addresses: ${status.addresses.join(' ')}`)
    const providerUnreachableDirectly = !(await this.tcpReachable('user', topo.host('provider').address, 7001))

    const userDir = path.join(this.dataRoot, 'user')
    const orderStarted = Date.now()
    const order = await this.cli('user', ['order', '--image', 'sim/http', '--port', String(CONTAINER_PORT), '--cpus', '0.5', '--memory', '128m', '--hours', '1', '--json', '--gateway', gwAddr, '--data-dir', userDir])
    const orderToDeployedS = seconds(orderStarted)
    const placed = JSON.parse(order.trim().split('\n').pop() ?? '{}') as { leaseId: string, provider: string, events: string[] }
    if (!placed.events.includes('deployed')) throw new Error(`the order ended without "deployed": ${placed.events.join(', ')}`)
    this.log(`lease ${placed.leaseId} deployed in ${orderToDeployedS} s (events: ${placed.events.join(' → ')})`)

    const tunnelStarted = Date.now()
    const connect = this.spawnIn('user', [CLI, 'connect', placed.leaseId, '--local', `0:${CONTAINER_PORT}`, '--json', '--gateway', gwAddr, '--data-dir', userDir])
    const listening = await this.readLine(connect.proc, line => line.includes('"event":"listening"'), connect.stderr) as { local: string, path?: string }
    const httpBody = await this.waitFor('an HTTP answer through the tunnel', async () => await this.nsFetch('user', `http://${listening.local}/`))
    const tunnelFirstResponseS = seconds(tunnelStarted)
    this.log(`HTTP through the tunnel in ${tunnelFirstResponseS} s: ${JSON.stringify(httpBody.trim())}`)

    const routerWan = topo.routerWanAddress
    const userConnections = establishedConnections(await topo.exec('user', 'cat', ['/proc/net/tcp']))
    const providerConnections = establishedConnections(await topo.exec('provider', 'cat', ['/proc/net/tcp']))
    const dcutrUpgraded = userConnections.some(c => c.remote.startsWith(`${routerWan}:`))
    const viaRelay = !dcutrUpgraded && userConnections.some(c => c.remote === `${gwHost.address}:${GATEWAY_P2P_PORT}`) &&
      providerConnections.every(c => c.remote.startsWith(`${gwHost.address}:`) || c.remote.startsWith('127.0.0.1:'))
    // The tunnel's own bytes: a spliced connection to the gateway's splice port (not its libp2p port).
    const spliced = !dcutrUpgraded && userConnections.some(c => c.remote.startsWith(`${gwHost.address}:`) && c.remote !== `${gwHost.address}:${GATEWAY_P2P_PORT}`)
    connect.proc.kill('SIGTERM')

    return {
      runId: topo.runId,
      link,
      setupS,
      nodesReadyS,
      tcpConnectMs,
      gateway: { peerId: gateway.ready.peerId, address: gwAddr },
      provider: { peerId: provider.ready.peerId, lanAddress: topo.host('provider').address, addresses: status.addresses, allRelayed: status.addresses.every(a => a.includes(`/p2p/${gateway.ready.peerId}/p2p-circuit`)) },
      providerUnreachableDirectly,
      lease: { leaseId: placed.leaseId, events: placed.events },
      orderToDeployedS,
      tunnelFirstResponseS,
      httpBody,
      userConnections,
      providerConnections,
      viaRelay,
      spliced,
      connectPath: listening.path ?? 'unknown',
      dcutrUpgraded,
      totalS: seconds(started)
    }
  }

  /** Stops every process, removes the namespaces and the data dirs (unless `keep`, or `force` overrides it). */
  async cleanup (force = false): Promise<void> {
    if (this.opts.keep === true && !force) return
    for (const p of this.procs) if (p.exitCode == null && p.signalCode == null) p.kill('SIGTERM')
    await Promise.all(this.procs.map(async p => {
      if (p.exitCode != null || p.signalCode != null) return
      const timer = setTimeout(() => p.kill('SIGKILL'), 5_000)
      await new Promise(resolve => p.once('exit', resolve))
      clearTimeout(timer)
    }))
    await this.topo?.destroy()
    if (this.dataRoot != null) await fsp.rm(this.dataRoot, { recursive: true, force: true })
  }

  /** Node's stderr so far, for a failure message. */
  logsOf (name: string): string { return this.logs.get(name)?.() ?? '' }
  private readonly logs = new Map<string, () => string>()

  private spawnIn (host: string, args: string[]): { proc: ChildProcess, stderr: () => string } {
    if (this.topo == null) throw new Error('no network')
    const proc = this.topo.spawn(host, process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.procs.push(proc)
    let stderr = ''
    // Also on disk (the run's data dir), for a look after a failure with --keep.
    const file = this.dataRoot != null ? fs.createWriteStream(path.join(this.dataRoot, `${host}-${path.basename(String(args[1] ?? 'cmd'))}.log`), { flags: 'a' }) : undefined
    proc.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-20_000); file?.write(d) })
    proc.once('exit', () => file?.end())
    return { proc, stderr: () => stderr }
  }

  private async startNode (name: string, args: string[]): Promise<RunningNode> {
    const dataDir = path.join(this.dataRoot ?? os.tmpdir(), name)
    const { proc, stderr } = this.spawnIn(name, [CLI, 'start', '--json', '--data-dir', dataDir, '--log-level', process.env.KAISAR_NETNS_LOG_LEVEL ?? 'info', ...args])
    this.logs.set(name, stderr)
    const ready = await this.readLine(proc, line => line.startsWith('{"event":"ready"'), stderr) as RunningNode['ready']
    return { name, proc, stderr, ready }
  }

  /** The first stdout line `match` accepts, parsed as JSON. */
  private async readLine (proc: ChildProcess, match: (line: string) => boolean, stderr: () => string): Promise<unknown> {
    return await new Promise((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => { reject(new Error(`no ready line within ${this.timeoutMs} ms; stderr:\n${stderr().slice(-3000)}`)) }, this.timeoutMs)
      proc.stdout?.on('data', (d: Buffer) => {
        out += d.toString()
        const line = out.split('\n').find(match)
        if (line != null) { clearTimeout(timer); resolve(JSON.parse(line)) }
      })
      proc.once('exit', code => { clearTimeout(timer); reject(new Error(`exited (${String(code)}) before it was ready; stderr:\n${stderr().slice(-3000)}`)) })
    })
  }

  /** A CLI command in a host's namespace, to completion; rejects on a non-zero exit. */
  private async cli (host: string, args: string[]): Promise<string> {
    const { proc, stderr } = this.spawnIn(host, [CLI, ...args])
    let out = ''
    proc.stdout?.on('data', (d: Buffer) => { out += d.toString() })
    const timer = setTimeout(() => proc.kill('SIGKILL'), this.timeoutMs)
    const code = await new Promise<number | null>(resolve => proc.once('exit', resolve))
    clearTimeout(timer)
    if (code !== 0) throw new Error(`kaisar-node ${args[0] ?? ''} exited ${String(code)}:\n${stderr().slice(-3000)}`)
    return out
  }

  /** An HTTP GET from inside a host's namespace (this process lives in the host namespace, which has no route there). */
  private async nsFetch (host: string, url: string): Promise<string> {
    const script = 'fetch(process.argv[1],{signal:AbortSignal.timeout(10000)}).then(async r=>{if(!r.ok)throw new Error(String(r.status));process.stdout.write(await r.text())})'
    if (this.topo == null) throw new Error('no network')
    return await this.topo.exec(host, process.execPath, ['-e', script, url])
  }

  /** Whether a TCP connection from `host` to address:port opens within 3 s (refused counts as reachable). */
  private async tcpReachable (host: string, address: string, port: number): Promise<boolean> {
    const script = 'const s=require("net").connect(+process.argv[2],process.argv[1]);s.setTimeout(3000);' +
      's.on("connect",()=>{console.log("open");s.destroy()});s.on("error",e=>console.log(e.code==="ECONNREFUSED"?"refused":"unreachable "+e.code));s.on("timeout",()=>{console.log("timeout");s.destroy()})'
    if (this.topo == null) throw new Error('no network')
    const out = (await this.topo.exec(host, process.execPath, ['-e', script, address, String(port)])).trim()
    return out === 'open' || out === 'refused'
  }

  /** Median of 5 TCP connection set-ups from `host` to address:port, timed inside the namespace. */
  private async tcpConnectMs (host: string, address: string, port: number): Promise<number> {
    const script = 'const net=require("net");const t=[];const one=()=>new Promise((ok,ko)=>{const s0=process.hrtime.bigint();' +
      'const s=net.connect(+process.argv[2],process.argv[1],()=>{t.push(Number(process.hrtime.bigint()-s0)/1e6);s.destroy();ok()});s.on("error",ko)});' +
      '(async()=>{for(let i=0;i<5;i++)await one();t.sort((a,b)=>a-b);console.log(t[2].toFixed(1))})()'
    if (this.topo == null) throw new Error('no network')
    return Number((await this.topo.exec(host, process.execPath, ['-e', script, address, String(port)])).trim())
  }

  private async waitFor<T> (what: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + this.timeoutMs
    let last = ''
    while (Date.now() < deadline) {
      try {
        const v = await probe()
        if (v !== undefined) return v
      } catch (err) { last = (err as Error).message }
      await sleep(300)
    }
    throw new Error(`timed out after ${this.timeoutMs} ms waiting for ${what}${last !== '' ? ` (last error: ${last})` : ''}`)
  }
}

