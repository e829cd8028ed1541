// A whole network on loopback as separate processes: gateways first (the first one hosts
// the local ledger), then providers and checkers bootstrapping from the gateways.
// Each child has an IPC channel to this process and exits when it goes away, so even a
// SIGKILLed devnet leaves nothing running.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { KaisarError } from '../errors.js'
import { DATA_PATH_NODE_FLAGS } from '../runtime/gc-flags.js'
import { loadOrCreateIdentity } from '../identity/keystore.js'
import { prepareDataDir } from '../store/data-dir.js'
import type { LogLevel, Role } from '../config/schema.js'

export const CLI_ENTRY = fileURLToPath(new URL('../../../bin/kaisar-node.js', import.meta.url))

export class DevnetError extends KaisarError<{ code: 'DEVNET_NODE_FAILED', node: string }> {
  constructor (node: string, message: string) {
    super({ code: 'DEVNET_NODE_FAILED', node }, message)
  }
}

export interface DevnetOptions {
  providers: number
  checkers: number
  gateways: number
  basePort: number
  dataDir: string
  logLevel: LogLevel
  heartbeatIntervalMs?: number
  /** Extra flags for every node (e.g. ['--chain', 'ws://…']). */
  extraArgs?: string[]
  /** The Docker engine providers run leases on (DOCKER_HOST form); none: providers take no leases. */
  dockerHost?: string
  readyTimeoutMs?: number
}

export interface DevnetNode {
  name: string
  role: Role
  dataDir: string
  p2pPort: number
  wsPort: number
  apiPort: number
  apiUrl: string
  logFile: string
  peerId?: string
  pid?: number
}

/** Port layout: node i listens on basePort + 2i (TCP) and + 2i + 1 (WebSockets); its API on basePort + 100 + i. */
export const MAX_DEVNET_NODES = 50

export function planDevnet (opts: DevnetOptions): DevnetNode[] {
  const roles: Role[] = [
    ...Array<Role>(opts.gateways).fill('gateway'),
    ...Array<Role>(opts.providers).fill('provider'),
    ...Array<Role>(opts.checkers).fill('checker')
  ]
  const counters: Record<string, number> = {}
  return roles.map((role, i) => {
    const n = counters[role] = (counters[role] ?? -1) + 1
    const name = `${role}-${n}`
    const dataDir = path.join(opts.dataDir, name)
    const apiPort = opts.basePort + 100 + i
    return { name, role, dataDir, p2pPort: opts.basePort + 2 * i, wsPort: opts.basePort + 2 * i + 1, apiPort, apiUrl: `http://127.0.0.1:${apiPort}`, logFile: path.join(dataDir, 'node.log') }
  })
}

export class Devnet {
  readonly nodes: DevnetNode[]
  private readonly opts: DevnetOptions
  private readonly children = new Map<string, ChildProcess>()
  private stopping = false

  constructor (opts: DevnetOptions) {
    if (opts.gateways < 1) throw new DevnetError('gateway', 'a devnet needs at least one gateway')
    const total = opts.gateways + opts.providers + opts.checkers
    if (total > MAX_DEVNET_NODES) throw new DevnetError('devnet', `at most ${MAX_DEVNET_NODES} nodes (asked for ${total}); use \`kaisar-node sim\` for more`)
    this.opts = opts
    this.nodes = planDevnet(opts)
  }

  get gateway (): DevnetNode { return this.nodes[0] as DevnetNode }

  /** Starts every node and waits until each answers on its API. */
  async start (onExit?: (node: DevnetNode, code: number | null, signal: NodeJS.Signals | null) => void): Promise<void> {
    const gateways = this.nodes.filter(n => n.role === 'gateway')
    const bootstrap: string[] = []
    for (const gw of gateways) {
      await prepareDataDir(gw.dataDir)
      const identity = await loadOrCreateIdentity(gw.dataDir)
      gw.peerId = identity.peerId.toString()
      bootstrap.push(`/ip4/127.0.0.1/tcp/${gw.p2pPort}/p2p/${gw.peerId}`)
    }
    for (const node of this.nodes) {
      await prepareDataDir(node.dataDir)
      this.spawnNode(node, bootstrap, onExit)
    }
    await Promise.all(this.nodes.map(async node => { await this.waitReady(node) }))
  }

  /** SIGTERM to every node, SIGKILL to any still running after `graceMs`. */
  async stop (graceMs = 10_000): Promise<void> {
    this.stopping = true
    const exits = [...this.children.values()].map(async child => {
      if (child.exitCode != null || child.signalCode != null) return
      const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    })
    await Promise.all(exits)
  }

  private spawnNode (node: DevnetNode, bootstrap: string[], onExit?: (node: DevnetNode, code: number | null, signal: NodeJS.Signals | null) => void): void {
    // The node's IPC channel (the lifeline below) would not survive bin/kaisar-node.js's re-exec
    // (close-on-exec), so the flags it would add are given here; the bin then does not re-exec.
    const args = [
      ...DATA_PATH_NODE_FLAGS, CLI_ENTRY, 'start', '--role', node.role, '--data-dir', node.dataDir,
      '--listen', `/ip4/127.0.0.1/tcp/${node.p2pPort}`, '--listen', `/ip4/127.0.0.1/tcp/${node.wsPort}/ws`,
      '--api', `127.0.0.1:${node.apiPort}`, '--log-level', this.opts.logLevel, '--json',
      ...bootstrap.filter(b => !b.endsWith(`/p2p/${node.peerId ?? '-'}`)).flatMap(b => ['--bootstrap', b]),
      ...(node === this.gateway ? ['--ledger-host'] : []),
      // A devnet on one machine: the quick benchmark (≈ 2 s) rather than the full one (≈ 17 s of CPU each).
      ...(node.role === 'provider' ? ['--benchmark', 'quick', '--containers', this.opts.dockerHost != null ? 'docker' : 'none'] : []),
      ...(this.opts.heartbeatIntervalMs != null ? ['--heartbeat-interval', String(this.opts.heartbeatIntervalMs)] : []),
      ...(this.opts.extraArgs ?? [])
    ]
    const log = fs.openSync(node.logFile, 'a')
    // Devnet epochs of Proof of Physical Work are 10 s (60 s elsewhere), unless the environment says otherwise.
    const env = { KAISAR_POPW_EPOCH_MS: '10000', ...process.env, KAISAR_DEVNET: '1', ...(this.opts.dockerHost != null ? { DOCKER_HOST: this.opts.dockerHost } : {}) }
    const child = spawn(process.execPath, args, { stdio: ['ignore', log, log, 'ipc'], env })
    fs.closeSync(log)
    // The IPC channel is only a lifeline (the child exits when it closes); the child process
    // itself keeps this process alive while it runs.
    child.channel?.unref()
    node.pid = child.pid
    this.children.set(node.name, child)
    child.once('exit', (code, signal) => {
      if (!this.stopping) onExit?.(node, code, signal)
    })
  }

  private async waitReady (node: DevnetNode): Promise<void> {
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 60_000)
    const child = this.children.get(node.name)
    while (Date.now() < deadline) {
      if (child?.exitCode != null || child?.signalCode != null) {
        throw new DevnetError(node.name, `${node.name} exited during start (code ${String(child.exitCode ?? child.signalCode)}):\n${await tail(node.logFile)}`)
      }
      try {
        const res = await fetch(`${node.apiUrl}/api/v1/status`, { signal: AbortSignal.timeout(1_000) })
        if (res.ok) {
          node.peerId = (await res.json() as { peerId: string }).peerId
          return
        }
      } catch {}
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new DevnetError(node.name, `${node.name} did not answer on ${node.apiUrl} within ${(this.opts.readyTimeoutMs ?? 60_000) / 1000}s; log:\n${await tail(node.logFile)}`)
  }
}

async function tail (file: string, lines = 15): Promise<string> {
  try {
    const text = await fsp.readFile(file, 'utf8')
    return text.trimEnd().split('\n').slice(-lines).map(l => `  | ${l}`).join('\n')
  } catch {
    return '  | (no log)'
  }
}

export const DOCKER_SCRIPT = fileURLToPath(new URL('../../../scripts/docker-engine.sh', import.meta.url))

/**
 * A Docker engine for the devnet's providers: DOCKER_HOST, the default socket, or the private
 * engine scripts/docker-engine.sh runs; with `start`, the script starts one. Undefined (with
 * why) when none answers.
 */
export async function findDockerEngine (start: boolean): Promise<{ dockerHost?: string, why: string }> {
  const { execFile } = await import('node:child_process')
  const script = async (cmd: string): Promise<string | undefined> => await new Promise(resolve => {
    execFile(DOCKER_SCRIPT, [cmd], { timeout: 600_000 }, (err, stdout) => { resolve(err == null ? /^DOCKER_HOST=(\S+)$/m.exec(stdout)?.[1] : undefined) })
  })
  const candidates = [process.env.DOCKER_HOST, await script('status'), 'unix:///var/run/docker.sock'].filter((h): h is string => h != null && h !== '')
  if (start) { const started = await script('start'); if (started != null) candidates.unshift(started) }
  const { DockerRuntime } = await import('../containers/docker.js')
  let why = 'no engine found'
  for (const dockerHost of [...new Set(candidates)]) {
    const rt = new DockerRuntime({ dockerHost })
    try {
      await rt.check({ signal: AbortSignal.timeout(5_000) })
      return { dockerHost, why: 'reachable' }
    } catch (err) {
      why = (err as Error).message
    } finally {
      await rt.close().catch(() => {})
    }
  }
  return { why }
}
