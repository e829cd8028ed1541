// `npm run bench -- tunnel [options]`: the mesh-VPN data path end to end, next to its baselines,
// all measured in the same run, interleaved round by round (the machine is shared and noisy):
//
//   tcp     load generator → target port                                    (raw TCP)
//   ssh     load generator → ssh -L → sshd (private, 127.0.0.1) → target     (OpenSSH default cipher)
//   tunnel  load generator → user node's local port → libp2p stream (TCP + Noise + Yamux)
//           → provider node → TCP → target; one pair of node processes per tuning variant
//   relayed as tunnel, but user → gateway (circuit relay v2, limits lifted) → provider
//   spliced user → gateway's splice port (TCP bytes copied) → provider, each connection a
//           dedicated tunnel (Noise handshake, then sealed records; protocols/tunnel/dedicated.ts):
//           the product's path to a provider behind a gateway (`connect`'s default)
//   spliced/shared  the same trio, the connections as streams of one spliced libp2p connection
//           (Noise + Yamux; `connect --tunnel shared`)
//   bare    the dedicated tunnel's data plane without its handshake (fixed keys), the gateway's
//           copy, no libp2p (tunnel-bare.ts): a yardstick
//
// The headline `tunnel_*` figures are the spliced path: user → gateway → provider → container,
// what issue 5 asks for; the direct user → provider tunnel is reported as `direct_*`.
//
// Every box is its own process. Measures, per path, the throughput of one --size MiB transfer
// into the target's sink (median of --runs; the sink's byte count is checked) and the round trip
// of 64-byte requests to the target's echo (p50/p99 of --rtt-samples), what opening a connection
// costs (connect → first echo, p50/p99 of --open-samples), plus the CPU time the
// forwarding processes spent per MiB (less sensitive to other tenants than wall-clock time).
//
// Options: --size MiB (1024) --runs N (3) --rtt-samples N (2000) --open-samples N (100 fresh
// connections timed from connect to first echo; 0: none) --target-port P (use a running
// target speaking bench/tunnel-target.ts's protocol instead of starting one)
// --variants a,b (stock,tuned; see tunnel-node.ts parseTuning) --sodium-path DIR (adds
// tuned+sodium) --relay-variant V[,V2...] (tuned; the first is the headline's, each further one
// adds a spliced trio named `spliced:V2`) --no-ssh --no-relay --no-circuit (no circuit relay path) --no-bare
// --no-shared (no spliced/shared path)
// --splice-flags 'SET;SET;...' (one spliced trio, user + gateway + provider, per set of V8/Node
// flags, all measured in the same run; see parseFlagSets; default: DATA_PATH_NODE_FLAGS, the flags
// bin/kaisar-node.js runs `start` and `connect` with, so the headline is what the product runs;
// '-' is no flags). The first set also applies to the direct and circuit relay paths' nodes.
// Rounds alternate the order of the paths (reversed every other round), so no path always runs
// right after the same neighbour.
// Last stdout line: {"tunnel_MiBps","ssh_MiBps","tcp_MiBps","tunnel_rtt_p50_ms",...}.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { log, median, percentile, round, sinkThroughput } from './lib.js'
import { flagValue } from './args.js'
import { DATA_PATH_NODE_FLAGS } from '../node/runtime/gc-flags.js'
import { freePort } from '../node/runtime/free-port.js'

const TARGET = fileURLToPath(new URL('./tunnel-target.js', import.meta.url))
const NODE = fileURLToPath(new URL('./tunnel-node.js', import.meta.url))
const BARE = fileURLToPath(new URL('./tunnel-bare.js', import.meta.url))
const INSTALL_SSHD = fileURLToPath(new URL('../../scripts/install-sshd.sh', import.meta.url))
const SSHD = '/usr/sbin/sshd'
const MiB = 1024 * 1024

const num = (args: string[], name: string, fallback: number): number => Number(flagValue(args, name) ?? fallback)

// ---- processes ------------------------------------------------------------------------------

interface Proc<T> { child: ChildProcess, info: T }
const children: ChildProcess[] = []

/** Spawns a bench script and waits for its one-line JSON ready message. */
async function spawnJson<T> (script: string, args: string[], nodeFlags: string[] = []): Promise<Proc<T>> {
  // BENCH_NODE_FLAGS: extra Node flags for the node processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const all = script === NODE || script === BARE ? [...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(f => f !== ''), ...nodeFlags] : []
  // NAME=VALUE tokens are the process's environment, the rest its node options.
  const env = { ...process.env, ...Object.fromEntries(all.filter(isEnvToken).map(t => [t.slice(0, t.indexOf('=')), t.slice(t.indexOf('=') + 1)])) }
  const flags = all.filter(t => !isEnvToken(t))
  const child = spawn(process.execPath, [...flags, script, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env })
  children.push(child)
  const info = await new Promise<T>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { reject(new Error(`${path.basename(script)} ${args[0] ?? ''} not ready after 30 s`)) }, 30_000)
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) { clearTimeout(timer); resolve(JSON.parse(out.slice(0, nl)) as T) }
    })
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`${path.basename(script)} exited with ${String(code)}`)) })
  })
  return { child, info }
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode != null || child.signalCode != null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  if (child.stdin != null && !child.stdin.destroyed) child.stdin.end()
  else child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}

let clkTck = 100
try { clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100 } catch {}

/** User + system CPU time in a /proc `stat` file (a process's or one thread's), in ms; throws when it is gone. */
function statCpuMs (file: string): number {
  const stat = readFileSync(file, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1000 / clkTck
}

/** CPU time (user + system) of a process and all its descendants, in ms. */
function cpuMs (pid: number): number {
  let total = 0
  const visit = (p: number): void => {
    try {
      total += statCpuMs(`/proc/${p}/stat`)
      const kids = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim()
      for (const k of kids === '' ? [] : kids.split(' ')) visit(Number(k))
    } catch {}
  }
  visit(pid)
  return total
}

/** CPU time (user + system) of a process's main thread (its event loop), in ms. */
function mainThreadCpuMs (pid: number): number {
  try { return statCpuMs(`/proc/${pid}/task/${pid}/stat`) } catch { return NaN }
}

const isEnvToken = (token: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*=/.test(token)

type Role = 'user' | 'gateway' | 'provider'
/** Node flags per role of a spliced trio. */
export interface FlagSet { label: string, flags: Record<Role, string[]> }

/**
 * `--splice-flags` value: sets separated by ';', each a space-separated list of Node/V8 flags for
 * the three processes of one spliced trio. A flag prefixed with `gateway:`, `ends:` (user and
 * provider), `user:` or `provider:` goes to those processes only; `-` or an empty set is no flags.
 * A `NAME=VALUE` token sets an environment variable instead (e.g. `OPENSSL_ia32cap=:~0x10000`).
 * E.g. "-;--single-threaded-gc;gateway:--single-threaded-gc;ends:--single-threaded-gc".
 */
export function parseFlagSets (spec: string): FlagSet[] {
  return spec.split(';').map(s => s.trim()).map(set => {
    const flags: Record<Role, string[]> = { user: [], gateway: [], provider: [] }
    for (const token of set.split(/\s+/).filter(t => t !== '' && t !== '-')) {
      const m = /^(gateway|ends|user|provider):(.+)$/.exec(token)
      const roles: Role[] = m == null ? ['user', 'gateway', 'provider'] : m[1] === 'ends' ? ['user', 'provider'] : [m[1] as Role]
      for (const r of roles) flags[r].push(m == null ? token : m[2] as string)
    }
    return { label: set === '' ? '-' : set, flags }
  })
}

// ---- load ---------------------------------------------------------------------------------

const chunk = Buffer.alloc(64 * 1024, 0x5a)

async function connect (port: number): Promise<net.Socket> {
  const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true, noDelay: true })
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject) })
  return sock
}

/** One transfer of `bytes` into the sink behind `port`; MiB/s from first byte to the sink's count. */
async function throughput (port: number, bytes: number): Promise<number> {
  const sock = await connect(port)
  const t0 = performance.now()
  sock.write('S')
  return await sinkThroughput(sock, bytes, chunk, t0)
}

const request = Buffer.alloc(64, 1)
/** Time between the connections of the "apart" opening measure. */
const OPEN_GAP_MS = 50

/** `n` sequential 64-byte round trips through the echo behind `port`, in ms, sorted. */
async function rtts (port: number, n: number): Promise<number[]> {
  const sock = await connect(port)
  sock.write('E')
  const out: number[] = []
  let pending: (() => void) | undefined
  let got = 0
  sock.on('data', (d: Buffer) => {
    got += d.byteLength
    if (got >= request.byteLength) { got -= request.byteLength; pending?.() }
  })
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await new Promise<void>(resolve => { pending = resolve; sock.write(request) })
    out.push(performance.now() - t0)
  }
  sock.destroy()
  return out.sort((a, b) => a - b)
}

/**
 * `n` fresh connections one after another, each timed from the connect to its first 64-byte echo
 * (what opening a tunnel costs: a stream, a channel, or a dedicated tunnel's splice and
 * handshake), in ms, sorted. Back to back (`gapMs` 0) a dedicated tunnel's spare is still being
 * made when the next connection comes; `gapMs` apart, as an application opens them now and then,
 * it is ready.
 */
async function opens (port: number, n: number, gapMs = 0): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    if (gapMs > 0) await new Promise(resolve => setTimeout(resolve, gapMs))
    const t0 = performance.now()
    const sock = await connect(port)
    await new Promise<void>((resolve, reject) => {
      let got = 0
      sock.on('data', (d: Buffer) => { got += d.byteLength; if (got >= request.byteLength) resolve() })
      sock.once('close', () => { reject(new Error(`connection ${i} closed before its echo`)) })
      sock.write(Buffer.concat([Buffer.from('E'), request]))
    })
    out.push(performance.now() - t0)
    sock.destroy()
  }
  return out.sort((a, b) => a - b)
}

async function waitPort (port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try { (await connect(port)).destroy(); return } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
}

// ---- ssh -L baseline ----------------------------------------------------------------------

interface SshTunnel { port: number, cipher: string, pids: number[], stop: () => Promise<void> }

/** A private sshd on 127.0.0.1 (own config, host key, authorized key, temp dir) and `ssh -N -L`. */
async function startSsh (targetPort: number): Promise<SshTunnel> {
  if (!existsSync(SSHD)) {
    log('sshd missing: running scripts/install-sshd.sh')
    execFileSync('sh', [INSTALL_SSHD], { stdio: ['ignore', 'inherit', 'inherit'] })
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kaisar-bench-ssh-'))
  const procs: ChildProcess[] = []
  const cleanup = async (): Promise<void> => {
    for (const p of procs.reverse()) await stop(p)
    await fs.rm(dir, { recursive: true, force: true })
  }
  try {
    for (const key of ['host_key', 'user_key']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, key)])
    await fs.copyFile(path.join(dir, 'user_key.pub'), path.join(dir, 'authorized_keys'))
    await fs.chmod(path.join(dir, 'authorized_keys'), 0o600)
    // sshd insists on its privilege-separation directory when run as root.
    if (process.getuid?.() === 0) await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 })
    const sshdPort = await freePort()
    await fs.writeFile(path.join(dir, 'sshd_config'), [
      `Port ${sshdPort}`, 'ListenAddress 127.0.0.1', `HostKey ${dir}/host_key`, `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password', 'UsePAM no', 'StrictModes no', 'AllowTcpForwarding yes', 'PermitTTY no', ''
    ].join('\n'))
    // -D: stays our child, so it is stopped with us; -e: log to stderr (discarded).
    const sshd = spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'ignore'] })
    procs.push(sshd)
    children.push(sshd)
    await waitPort(sshdPort, 10_000)
    const localPort = await freePort()
    let sshLog = ''
    const user = os.userInfo().username
    const ssh = spawn('ssh', ['-N', '-v', '-L', `${localPort}:127.0.0.1:${targetPort}`, '-p', String(sshdPort), '-i', path.join(dir, 'user_key'),
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes',
      '-F', '/dev/null', `${user}@127.0.0.1`], { stdio: ['ignore', 'ignore', 'pipe'] })
    procs.push(ssh)
    children.push(ssh)
    ssh.stderr?.on('data', (d: Buffer) => { if (sshLog.length < 100_000) sshLog += d.toString() })
    await waitPort(localPort, 15_000)
    const cipher = /kex: client->server cipher: (\S+)/.exec(sshLog)?.[1] ?? 'unknown'
    return { port: localPort, cipher, pids: [ssh.pid as number, sshd.pid as number], stop: cleanup }
  } catch (err) {
    await cleanup()
    throw err
  }
}

// ---- run ----------------------------------------------------------------------------------

interface PathResult {
  MiBps: number[]
  cpuMsPerMiB: number[]
  /** Per round, per forwarding process: all threads, and the main thread alone. */
  perProcess: number[][]
  perProcessMain: number[][]
  rtt?: number[]
  open?: number[]
  openIdle?: number[]
}
interface BenchPath { port: number, pids: number[], roles: string[] }

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const sizeMiB = num(args, '--size', 1024)
  const runs = num(args, '--runs', 3)
  const rttSamples = num(args, '--rtt-samples', 2000)
  const openSamples = num(args, '--open-samples', 100)
  const sodiumPath = flagValue(args, '--sodium-path')
  const variants = (flagValue(args, '--variants') ?? 'stock,tuned').split(',').filter(v => v !== '')
  if (sodiumPath != null && !variants.some(v => v.includes('sodium'))) variants.push('tuned+sodium')
  // The first is the headline's; more (comma-separated) add spliced trios `spliced:VARIANT`.
  const relayVariants = (flagValue(args, '--relay-variant') ?? 'tuned').split(',').filter(v => v !== '')
  const withSsh = !args.includes('--no-ssh')
  const withRelay = !args.includes('--no-relay')
  const withCircuit = !args.includes('--no-circuit')
  const withBare = !args.includes('--no-bare')
  const withShared = !args.includes('--no-shared')
  const flagSets = parseFlagSets(flagValue(args, '--splice-flags') ?? DATA_PATH_NODE_FLAGS.join(' '))
  const first = flagSets[0] as FlagSet
  const sodiumArgs = sodiumPath != null ? ['--sodium-path', sodiumPath] : []

  const paths = new Map<string, BenchPath>()
  const notes: string[] = []
  let ssh: SshTunnel | undefined
  try {
    let targetPort = Number(flagValue(args, '--target-port') ?? NaN)
    if (Number.isNaN(targetPort)) {
      const target = await spawnJson<{ port: number }>(TARGET, [])
      targetPort = target.info.port
      log(`target (sink/echo) on 127.0.0.1:${targetPort}`)
    }
    paths.set('tcp', { port: targetPort, pids: [], roles: [] })

    if (withSsh) {
      try {
        ssh = await startSsh(targetPort)
        paths.set('ssh', { port: ssh.port, pids: ssh.pids, roles: ['ssh', 'sshd'] })
        log(`ssh -L on 127.0.0.1:${ssh.port}, cipher ${ssh.cipher}`)
      } catch (err) {
        notes.push(`ssh baseline skipped: ${(err as Error).message}`)
        log(notes[notes.length - 1] as string)
      }
    }

    for (const variant of variants) {
      const prov = await spawnJson<{ multiaddr: string }>(NODE, ['provider', '--target', `127.0.0.1:${targetPort}`, '--tuning', variant, ...sodiumArgs], first.flags.provider)
      const usr = await spawnJson<{ port: number, encryption?: string }>(NODE, ['user', '--provider', prov.info.multiaddr, '--tuning', variant, ...sodiumArgs], first.flags.user)
      paths.set(`tunnel:${variant}`, { port: usr.info.port, pids: [usr.child.pid as number, prov.child.pid as number], roles: ['user', 'provider'] })
      log(`tunnel ${variant}: user port ${usr.info.port} → ${prov.info.multiaddr} (${usr.info.encryption ?? '?'})`)
    }
    // One trio (gateway, provider behind it, spliced user) per relay variant and flag set; the
    // first variant's first set's trio also carries the circuit relay path (its own user node).
    for (const [v, relayVariant] of (withRelay ? relayVariants : []).entries()) {
      for (const [i, set] of flagSets.entries()) {
        const gw = await spawnJson<{ multiaddr: string, peerId: string }>(NODE, ['gateway', '--tuning', relayVariant, ...sodiumArgs], set.flags.gateway)
        const gwAddr = `${gw.info.multiaddr.replace(/\/p2p\/[^/]+$/, '')}/p2p/${gw.info.peerId}`
        const prov = await spawnJson<{ multiaddr: string }>(NODE, ['provider', '--target', `127.0.0.1:${targetPort}`, '--relay', gwAddr, '--tuning', relayVariant, ...sodiumArgs], set.flags.provider)
        if (v === 0 && i === 0 && withCircuit) {
          const usr = await spawnJson<{ port: number }>(NODE, ['user', '--provider', prov.info.multiaddr, '--tuning', relayVariant, ...sodiumArgs], set.flags.user)
          paths.set('relayed', { port: usr.info.port, pids: [usr.child.pid as number, gw.child.pid as number, prov.child.pid as number], roles: ['user', 'gateway', 'provider'] })
          log(`relayed (${relayVariant}): user port ${usr.info.port} → ${prov.info.multiaddr}`)
        }
        // The product's default for `connect` through a gateway: a dedicated tunnel per connection.
        const spl = await spawnJson<{ port: number, encryption?: string }>(NODE, ['user', '--provider', prov.info.multiaddr, '--splice', '--dedicated', '--tuning', relayVariant, ...sodiumArgs], set.flags.user)
        const name = `spliced${v === 0 ? '' : `:${relayVariant}`}${i === 0 ? '' : `[${set.label}]`}`
        paths.set(name, { port: spl.info.port, pids: [spl.child.pid as number, gw.child.pid as number, prov.child.pid as number], roles: ['user', 'gateway', 'provider'] })
        log(`${name} (${relayVariant}, node flags ${set.label}): user port ${spl.info.port} → gateway splice port → ${prov.info.multiaddr} (${spl.info.encryption ?? '?'})`)
        if (withShared) {
          // `connect --tunnel shared`: streams of one spliced libp2p connection (Noise + Yamux), same gateway and provider.
          const shared = await spawnJson<{ port: number, encryption?: string }>(NODE, ['user', '--provider', prov.info.multiaddr, '--splice', '--tuning', relayVariant, ...sodiumArgs], set.flags.user)
          paths.set(`${name}/shared`, { port: shared.info.port, pids: [shared.child.pid as number, gw.child.pid as number, prov.child.pid as number], roles: ['user', 'gateway', 'provider'] })
          log(`${name}/shared: user port ${shared.info.port} → gateway splice port → ${prov.info.multiaddr} (${shared.info.encryption ?? '?'})`)
        }
      }
    }

    if (withBare) {
      // Same shape as the spliced path, with the first flag set's Node flags, no libp2p (tunnel-bare.ts).
      const end = await spawnJson<{ port: number }>(BARE, ['end', '--plain', 'next', '--next', `127.0.0.1:${targetPort}`], first.flags.provider)
      const copy = await spawnJson<{ port: number }>(BARE, ['copy', '--next', `127.0.0.1:${end.info.port}`], first.flags.gateway)
      const start = await spawnJson<{ port: number }>(BARE, ['end', '--plain', 'accepted', '--next', `127.0.0.1:${copy.info.port}`], first.flags.user)
      paths.set('bare', { port: start.info.port, pids: [start.child.pid as number, copy.child.pid as number, end.child.pid as number], roles: ['user', 'gateway', 'provider'] })
      log(`bare: user end ${start.info.port} → copy ${copy.info.port} → provider end ${end.info.port} → target (AES-256-GCM records, no libp2p)`)
    }

    // Warm-up: one small transfer and a few round trips per path (JIT, windows, connections).
    for (const [, p] of paths) { await throughput(p.port, 64 * MiB); await rtts(p.port, 200) }

    const results = new Map<string, PathResult>([...paths.keys()].map(k => [k, { MiBps: [], cpuMsPerMiB: [], perProcess: [], perProcessMain: [] }]))
    const order = [...paths.entries()]
    for (let r = 0; r < runs; r++) {
      for (const [name, p] of r % 2 === 0 ? order : [...order].reverse()) {
        const before = p.pids.map(cpuMs)
        const beforeMain = p.pids.map(mainThreadCpuMs)
        const mibps = await throughput(p.port, sizeMiB * MiB)
        // CPU per MiB of each forwarding process (user, [gateway,] provider; ssh, sshd).
        const each = p.pids.map((pid, i) => (cpuMs(pid) - (before[i] as number)) / sizeMiB)
        const eachMain = p.pids.map((pid, i) => (mainThreadCpuMs(pid) - (beforeMain[i] as number)) / sizeMiB)
        const cpuPerMiB = each.reduce((a, b) => a + b, 0)
        const res = results.get(name) as PathResult
        res.MiBps.push(mibps)
        if (p.pids.length > 0) { res.cpuMsPerMiB.push(cpuPerMiB); res.perProcess.push(each); res.perProcessMain.push(eachMain) }
        log(`run ${r + 1}/${runs} ${name}: ${mibps.toFixed(1)} MiB/s${p.pids.length > 0 ? `, ${cpuPerMiB.toFixed(2)} CPU ms/MiB in the forwarders (${each.map((x, i) => `${p.roles[i] ?? '?'} ${x.toFixed(2)} [main ${(eachMain[i] as number).toFixed(2)}]`).join(' + ')})` : ''}`)
      }
    }
    for (const [name, p] of paths) {
      (results.get(name) as PathResult).rtt = await rtts(p.port, rttSamples)
      const rtt = (results.get(name) as PathResult).rtt as number[]
      log(`rtt ${name}: p50 ${percentile(rtt, 50).toFixed(3)} ms, p99 ${percentile(rtt, 99).toFixed(3)} ms`)
    }
    for (const [name, p] of paths) {
      if (openSamples <= 0) break
      const res = results.get(name) as PathResult
      const open = res.open = await opens(p.port, openSamples)
      const idle = res.openIdle = await opens(p.port, Math.ceil(openSamples / 4), OPEN_GAP_MS)
      log(`open ${name}: p50 ${percentile(open, 50).toFixed(3)} ms, p99 ${percentile(open, 99).toFixed(3)} ms back to back; p50 ${percentile(idle, 50).toFixed(3)} ms ${OPEN_GAP_MS} ms apart (connect → first echo)`)
    }

    const summary = (name: string): Record<string, number> | undefined => {
      const res = results.get(name)
      if (res == null) return undefined
      const rtt = res.rtt ?? []
      return {
        MiBps: round(median(res.MiBps), 1),
        MiBps_min: round(Math.min(...res.MiBps), 1),
        MiBps_max: round(Math.max(...res.MiBps), 1),
        ...(res.cpuMsPerMiB.length > 0 ? { cpu_ms_per_MiB: round(median(res.cpuMsPerMiB), 2) } : {}),
        // Per process (medians over rounds): all threads, and the main thread alone.
        ...Object.fromEntries((paths.get(name)?.roles ?? []).flatMap((role, i) => [
          [`${role}_cpu_ms_per_MiB`, round(median(res.perProcess.map(e => e[i] as number)), 2)],
          [`${role}_main_ms_per_MiB`, round(median(res.perProcessMain.map(e => e[i] as number)), 2)]
        ])),
        rtt_p50_ms: round(percentile(rtt, 50)),
        rtt_p99_ms: round(percentile(rtt, 99)),
        ...(res.open != null ? { open_p50_ms: round(percentile(res.open, 50)), open_p99_ms: round(percentile(res.open, 99)) } : {}),
        ...(res.openIdle != null ? { open_apart_p50_ms: round(percentile(res.openIdle, 50)) } : {})
      }
    }
    const main = variants.includes('tuned') ? 'tuned' : variants[variants.length - 1] as string
    const direct = summary(`tunnel:${main}`)
    // The issue's path is through the gateway; without --no-relay that is the spliced one.
    const t = summary('spliced') ?? direct
    const s = summary('ssh')
    const c = summary('tcp') as Record<string, number>
    const stock = summary('tunnel:stock')
    const relayed = summary('relayed')
    const bare = summary('bare')
    const sodiumName = variants.find(v => v.includes('sodium'))
    const sodium = sodiumName != null ? summary(`tunnel:${sodiumName}`) : undefined
    const ratio = (a?: number, b?: number): number | null => a != null && b != null && b > 0 ? round(a / b) : null
    return {
      tunnel_MiBps: t?.MiBps ?? null,
      ssh_MiBps: s?.MiBps ?? null,
      tcp_MiBps: c.MiBps,
      tunnel_rtt_p50_ms: t?.rtt_p50_ms ?? null,
      tunnel_rtt_p99_ms: t?.rtt_p99_ms ?? null,
      ssh_rtt_p50_ms: s?.rtt_p50_ms ?? null,
      ssh_rtt_p99_ms: s?.rtt_p99_ms ?? null,
      tcp_rtt_p50_ms: c.rtt_p50_ms,
      tcp_rtt_p99_ms: c.rtt_p99_ms,
      // A new connection, from connect to its first echo (a dedicated tunnel pays its splice and handshake here).
      tunnel_open_p50_ms: t?.open_p50_ms ?? null,
      tunnel_open_apart_p50_ms: t?.open_apart_p50_ms ?? null,
      ssh_open_p50_ms: s?.open_p50_ms ?? null,
      shared_open_p50_ms: summary('spliced/shared')?.open_p50_ms ?? null,
      tunnel_path: summary('spliced') != null ? 'user → gateway (splice) → provider → target' : 'user → provider → target (direct; --no-relay)',
      direct_MiBps: direct?.MiBps ?? null,
      direct_rtt_p50_ms: direct?.rtt_p50_ms ?? null,
      relayed_MiBps: relayed?.MiBps ?? null,
      relayed_rtt_p50_ms: relayed?.rtt_p50_ms ?? null,
      ...(sodium != null ? { tunnel_sodium_MiBps: sodium.MiBps } : {}),
      tunnel_vs_ssh: ratio(t?.MiBps, s?.MiBps),
      tunnel_vs_tcp: ratio(t?.MiBps, c.MiBps),
      direct_vs_ssh: ratio(direct?.MiBps, s?.MiBps),
      spliced_vs_relayed: ratio(summary('spliced')?.MiBps, relayed?.MiBps),
      // The spliced path as streams of one libp2p connection (`connect --tunnel shared`).
      shared_MiBps: summary('spliced/shared')?.MiBps ?? null,
      shared_vs_ssh: ratio(summary('spliced/shared')?.MiBps, s?.MiBps),
      shared_rtt_p50_ms: summary('spliced/shared')?.rtt_p50_ms ?? null,
      // The yardstick: three forwarders doing only the tunnel's unavoidable work (tunnel-bare.ts).
      bare_MiBps: bare?.MiBps ?? null,
      bare_vs_ssh: ratio(bare?.MiBps, s?.MiBps),
      tunnel_vs_bare: ratio(t?.MiBps, bare?.MiBps),
      ...(flagSets.length > 1 ? { splice_flag_sets: flagSets.map((f, i) => ({ path: i === 0 ? 'spliced' : `spliced[${f.label}]`, flags: f.flags })) } : {}),
      tuned_vs_stock: ratio(direct?.MiBps, stock?.MiBps),
      tunnel_variant: main,
      node_flags: first.flags,
      ssh_cipher: ssh?.cipher ?? null,
      // Per path: the medians, plus its same-round ratio against ssh, round by round (the machine's
      // load moves between rounds; a flag set that helps should win in every round).
      paths: Object.fromEntries([...paths.keys()].map(k => {
        const sshRuns = results.get('ssh')?.MiBps
        const own = (results.get(k) as PathResult).MiBps
        return [k, { ...summary(k), ...(sshRuns != null && k !== 'ssh' ? { vs_ssh_by_round: own.map((x, i) => round(x / (sshRuns[i] as number))) } : {}) }]
      })),
      size_mib: sizeMiB,
      runs,
      rtt_samples: rttSamples,
      ...(notes.length > 0 ? { notes } : {})
    }
  } finally {
    await ssh?.stop()
    for (const child of children.reverse()) await stop(child)
  }
}
