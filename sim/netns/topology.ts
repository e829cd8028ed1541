// A small network of Linux network namespaces on this machine (root only): a "public" LAN on a
// Linux bridge with hosts on it, and a home router (its own namespace, masquerading with
// iptables) with hosts behind it that have no public address. Links get a fixed delay and a
// random loss on every host's egress.
//
// Why not `tc netem`: this machine's kernel is built without it (CONFIG_NET_SCH_NETEM off, no
// modules). Loss is an iptables `statistic` rule; delay is NFQUEUE plus a small netlink process
// (delay.py) that accepts each packet after the delay. See README.md.
//
// Everything is named `kz<pid>-…` (namespaces) so runs in parallel never collide, all addresses
// are private (10.77.0.0/16) and exist only inside the run's own namespaces (the host namespace
// gets no interface, address, route or rule), and `destroy` kills every process inside them and
// deletes them. `removeStale` deletes those of runs whose process is gone.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'

export const NS_PREFIX = 'kz'
const PUBLIC_NET = '10.77.0'
const NAT_NET = '10.77.1'
const ROUTER_WAN = `${PUBLIC_NET}.2`
const ROUTER_LAN = `${NAT_NET}.1`
const DELAY_SCRIPT = fileURLToPath(new URL('../../../sim/netns/delay.py', import.meta.url))

export interface LinkShape {
  /** Added on every host's egress (and both ways through the router), ms. */
  latencyMs: number
  /** Chance of dropping a packet at each of those points, percent. */
  lossPercent: number
}

export interface NetnsHost {
  /** Short name ("gateway"). */
  name: string
  /** The namespace it lives in. */
  ns: string
  /** Its only address. */
  address: string
  /** Reachable from the public LAN (false: behind the NAT router). */
  public: boolean
}

export interface TopologyPlan extends LinkShape {
  publicHosts: string[]
  natHosts: string[]
}

export class NetnsError extends Error {}

/** Runs a command to completion; rejects with its stderr. */
export async function run (cmd: string, args: string[], opts: { allowFail?: boolean } = {}): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err != null && opts.allowFail !== true) reject(new NetnsError(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`))
      else resolve(stdout)
    })
  })
}

/** Fails with one clear sentence when this process cannot build namespaces (not root, no `ip`, no netns support). */
export async function checkNetnsSupport (): Promise<void> {
  if (process.getuid?.() !== 0) throw new NetnsError(`netns mode needs root (this process runs as uid ${String(process.getuid?.())}): network namespaces, veths and iptables rules need CAP_NET_ADMIN`)
  const probe = `${NS_PREFIX}${process.pid}-probe`
  try {
    await run('ip', ['netns', 'add', probe])
  } catch (err) {
    throw new NetnsError(`cannot create a network namespace (${(err as Error).message}); netns mode needs iproute2 and a kernel with network namespaces`)
  } finally {
    await run('ip', ['netns', 'del', probe], { allowFail: true })
  }
  try { await run('iptables', ['--version']) } catch { throw new NetnsError('iptables is missing: scripts/netns-deps.sh installs it') }
  try { await run('python3', ['--version']) } catch { throw new NetnsError('python3 is missing (the packet delay runs in it): scripts/netns-deps.sh installs it') }
}

/** Whether a process runs (a zombie waiting to be reaped by its new parent does not). */
export function pidAlive (pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

/** Our namespaces, by the pid of the run that made them. */
async function ourNamespaces (): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>()
  for (const line of (await run('ip', ['netns', 'list'])).split('\n')) {
    const name = line.split(' ')[0] ?? ''
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-[a-z0-9-]+$`).exec(name)
    if (m == null) continue
    const pid = Number(m[1])
    out.set(pid, [...(out.get(pid) ?? []), name])
  }
  return out
}

/** Kills every process inside a namespace (SIGTERM, then SIGKILL), then deletes it. */
async function removeNamespace (ns: string): Promise<void> {
  const pids = async (): Promise<number[]> => (await run('ip', ['netns', 'pids', ns], { allowFail: true })).split('\n').map(Number).filter(p => p > 0)
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const left = await pids()
    if (left.length === 0) break
    for (const pid of left) { try { process.kill(pid, signal) } catch {} }
    const deadline = Date.now() + 5_000
    while (Date.now() < deadline && (await pids()).length > 0) await new Promise(resolve => setTimeout(resolve, 100))
  }
  await run('ip', ['netns', 'del', ns], { allowFail: true })
}

/** Deletes the namespaces (and processes) of earlier runs whose process no longer exists. */
export async function removeStale (): Promise<string[]> {
  const removed: string[] = []
  for (const [pid, names] of await ourNamespaces()) {
    if (pid === process.pid || pidAlive(pid)) continue
    for (const ns of names) { await removeNamespace(ns); removed.push(ns) }
  }
  return removed
}

/** This run's namespaces that still exist (after `destroy`: none). */
export async function namespacesOf (pid: number): Promise<string[]> {
  return (await ourNamespaces()).get(pid) ?? []
}

export class NetnsTopology {
  readonly hosts = new Map<string, NetnsHost>()
  readonly switchNs: string
  readonly routerNs: string
  private readonly namespaces: string[] = []
  private readonly delayers: ChildProcess[] = []
  private destroyed = false

  private constructor (readonly plan: TopologyPlan, readonly runId: string) {
    this.switchNs = `${NS_PREFIX}${runId}-switch`
    this.routerNs = `${NS_PREFIX}${runId}-router`
  }

  /** Builds the whole network; on any failure removes what it made and rethrows. */
  static async create (plan: TopologyPlan, runId = String(process.pid)): Promise<NetnsTopology> {
    const topo = NetnsTopology.plan(plan, runId)
    await topo.build()
    return topo
  }

  /**
   * A topology not built yet: its owner holds it before `build`, so a signal during the build
   * can `destroy` what exists so far.
   */
  static plan (plan: TopologyPlan, runId = String(process.pid)): NetnsTopology {
    const names = [...plan.publicHosts, ...plan.natHosts]
    if (new Set(names).size !== names.length || names.some(n => !/^[a-z][a-z0-9]{0,9}$/.test(n) || n === 'switch' || n === 'router')) {
      throw new NetnsError(`host names must be unique, 1-10 of a-z0-9, not "switch" or "router" (got ${names.join(', ')})`)
    }
    if (!new RegExp(`^${process.pid}(-[a-z0-9]{1,8})?$`).test(runId)) throw new NetnsError(`a run id is this process's pid, optionally with -suffix (stale runs are found by pid): got ${runId}`)
    if (plan.publicHosts.length > 200 || plan.natHosts.length > 200) throw new NetnsError('at most 200 hosts per LAN')
    return new NetnsTopology(plan, runId)
  }

  /** Creates namespaces, bridges, veths, NAT and shaping; on any failure removes what it made and rethrows. */
  async build (): Promise<void> {
    try {
      await this.buildAll()
    } catch (err) {
      await this.destroy()
      throw err
    }
  }

  /** The router's public address: the one every host behind it appears from. */
  get routerWanAddress (): string { return ROUTER_WAN }

  host (name: string): NetnsHost {
    const h = this.hosts.get(name)
    if (h == null) throw new NetnsError(`no host ${name}`)
    return h
  }

  /** Spawns a command inside a host's namespace. */
  spawn (host: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.host(host).ns, cmd, ...args], opts)
  }

  /** Runs a command inside a host's namespace to completion. */
  async exec (host: string, cmd: string, args: string[], opts: { allowFail?: boolean } = {}): Promise<string> {
    return await run('ip', ['netns', 'exec', this.host(host).ns, cmd, ...args], opts)
  }

  /** Pids of every process inside the run's namespaces (nodes, CLI commands, packet delays). */
  async processes (): Promise<number[]> {
    const out: number[] = []
    for (const ns of this.namespaces) out.push(...(await run('ip', ['netns', 'pids', ns], { allowFail: true })).split('\n').map(Number).filter(p => p > 0))
    return out
  }

  /** Kills every process in the run's namespaces and deletes them. Idempotent. */
  async destroy (): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    for (const d of this.delayers) d.kill('SIGTERM')
    // Host namespaces first (their nodes), the router and switch last: nodes stop while the network still carries their goodbyes.
    for (const ns of [...this.namespaces].reverse()) await removeNamespace(ns)
  }

  private async addNamespace (ns: string): Promise<void> {
    if (this.destroyed) throw new NetnsError('the network was removed while it was being built')
    await run('ip', ['netns', 'add', ns])
    if (this.destroyed) { await run('ip', ['netns', 'del', ns], { allowFail: true }); throw new NetnsError('the network was removed while it was being built') }
    this.namespaces.push(ns)
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  }

  /** A veth from `ns` (named `ifname`, with `address`) to the bridge `bridge` in `bridgeNs`. */
  private async wire (ns: string, ifname: string, address: string, bridgeNs: string, bridge: string, port: string): Promise<void> {
    await run('ip', ['link', 'add', ifname, 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', bridgeNs])
    await run('ip', ['-n', bridgeNs, 'link', 'set', port, 'master', bridge, 'up'])
    await run('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', ifname])
    await run('ip', ['-n', ns, 'link', 'set', ifname, 'up'])
  }

  private async buildAll (): Promise<void> {
    const { publicHosts, natHosts } = this.plan
    // The switch: one namespace holding two bridges, the public LAN and the router's home LAN.
    await this.addNamespace(this.switchNs)
    for (const br of ['public', 'home']) {
      await run('ip', ['-n', this.switchNs, 'link', 'add', br, 'type', 'bridge'])
      await run('ip', ['-n', this.switchNs, 'link', 'set', br, 'up'])
    }
    await this.addNamespace(this.routerNs)
    await this.wire(this.routerNs, 'wan', ROUTER_WAN, this.switchNs, 'public', 'p-router')
    await this.wire(this.routerNs, 'lan', ROUTER_LAN, this.switchNs, 'home', 'h-router')
    await this.natRouter()
    for (const [i, name] of publicHosts.entries()) {
      const host: NetnsHost = { name, ns: `${NS_PREFIX}${this.runId}-${name}`, address: `${PUBLIC_NET}.${10 + i}`, public: true }
      await this.addNamespace(host.ns)
      await this.wire(host.ns, 'eth0', host.address, this.switchNs, 'public', `p-${name}`)
      this.hosts.set(name, host)
    }
    for (const [i, name] of natHosts.entries()) {
      const host: NetnsHost = { name, ns: `${NS_PREFIX}${this.runId}-${name}`, address: `${NAT_NET}.${10 + i}`, public: false }
      await this.addNamespace(host.ns)
      await this.wire(host.ns, 'eth0', host.address, this.switchNs, 'home', `h-${name}`)
      await run('ip', ['-n', host.ns, 'route', 'add', 'default', 'via', ROUTER_LAN])
      this.hosts.set(name, host)
    }
    for (const host of this.hosts.values()) await this.shapeLinks(host.ns, 'OUTPUT', ['eth0'])
    // Through the router: both directions, as a second hop.
    await this.shapeLinks(this.routerNs, 'FORWARD', ['wan', 'lan'])
  }

  /** A home router: masquerade out of `wan`; from outside, only replies to connections made from inside. */
  private async natRouter (): Promise<void> {
    const ipt = async (...args: string[]): Promise<void> => { await run('ip', ['netns', 'exec', this.routerNs, 'iptables', ...args]) }
    await run('ip', ['netns', 'exec', this.routerNs, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
    await ipt('-P', 'FORWARD', 'DROP')
    await ipt('-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')
    await ipt('-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-j', 'ACCEPT')
    await ipt('-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE')
  }

  /** Loss and delay on packets leaving through `ifaces` (chain OUTPUT for a host, FORWARD for the router). */
  private async shapeLinks (ns: string, chain: 'OUTPUT' | 'FORWARD', ifaces: string[]): Promise<void> {
    const { latencyMs, lossPercent } = this.plan
    // Appended after the router's ACCEPT rules would never run: shaping goes first (-I).
    let at = 1
    const ipt = async (...args: string[]): Promise<void> => { await run('ip', ['netns', 'exec', ns, 'iptables', '-I', chain, String(at++), ...args]) }
    for (const ifname of ifaces) {
      if (lossPercent > 0) await ipt('-o', ifname, '-m', 'statistic', '--mode', 'random', '--probability', String(lossPercent / 100), '-j', 'DROP')
      // No --queue-bypass: if the delay process dies, the link stops, rather than silently losing its delay.
      if (latencyMs > 0) await ipt('-o', ifname, '-j', 'NFQUEUE', '--queue-num', '0')
    }
    if (latencyMs > 0) await this.startDelayer(ns, latencyMs)
  }

  private async startDelayer (ns: string, latencyMs: number): Promise<void> {
    if (!fs.existsSync(DELAY_SCRIPT)) throw new NetnsError(`missing ${DELAY_SCRIPT}`)
    if (this.destroyed) throw new NetnsError('the network was removed while it was being built')
    const child = spawn('ip', ['netns', 'exec', ns, 'python3', DELAY_SCRIPT, '0', String(latencyMs)], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.delayers.push(child)
    let err = ''
    child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new NetnsError(`packet delay in ${ns} did not start: ${err}`)) }, 10_000)
      child.stdout?.once('data', () => { clearTimeout(timer); resolve() })
      child.once('exit', code => { clearTimeout(timer); reject(new NetnsError(`packet delay in ${ns} exited (${String(code)}): ${err}`)) })
    })
  }
}
