// Runs the real `kaisar-node` CLI as child processes (the e2e tier), and makes sure every
// process a test started is gone when the test file ends.
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const CLI = path.resolve(fileURLToPath(new URL('../../../bin/kaisar-node.js', import.meta.url)))

const running = new Set<ChildProcess>()

export interface CliResult { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Runs a CLI command to completion. */
export async function runCli (args: string[], opts: { env?: Record<string, string>, timeoutMs?: number } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.once('exit', (c, s) => { resolve([c, s]) }))
  clearTimeout(timer)
  running.delete(child)
  return { code, signal, stdout, stderr }
}

export interface ReadyEvent { event: 'ready', peerId: string, role: string, addresses: string[], api: string, wallet: string, pid: number }

export interface CliNode {
  proc: ChildProcess
  ready: ReadyEvent
  stderr: () => string
  /** SIGTERM (clean stop) and wait for exit; returns the exit code. */
  stop: () => Promise<number | null>
  /** SIGKILL and wait for exit. */
  kill: () => Promise<void>
  exited: Promise<[number | null, NodeJS.Signals | null]>
}

/** Starts `kaisar-node start --json …` and resolves when it prints its ready line. */
export async function startNode (args: string[], opts: { env?: Record<string, string>, timeoutMs?: number } = {}): Promise<CliNode> {
  const proc = spawn(process.execPath, [CLI, 'start', '--json', ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(proc)
  let stdout = ''
  let stderr = ''
  proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<[number | null, NodeJS.Signals | null]>(resolve => proc.once('exit', (c, s) => { running.delete(proc); resolve([c, s]) }))
  const ready = await new Promise<ReadyEvent>((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`node did not become ready in time; stderr:\n${stderr}`)) }, opts.timeoutMs ?? 60_000)
    proc.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString()
      const line = stdout.split('\n').find(l => l.startsWith('{"event":"ready"'))
      if (line != null) { clearTimeout(timer); resolve(JSON.parse(line) as ReadyEvent) }
    })
    void exited.then(([code, signal]) => { clearTimeout(timer); reject(new Error(`node exited before ready (${String(code ?? signal)}); stderr:\n${stderr}`)) })
  })
  return {
    proc,
    ready,
    stderr: () => stderr,
    exited,
    stop: async () => { proc.kill('SIGTERM'); return (await exited)[0] },
    kill: async () => { proc.kill('SIGKILL'); await exited }
  }
}

/** Kills whatever a test file left running. */
export async function killAll (): Promise<void> {
  await Promise.all([...running].map(async child => {
    if (child.exitCode != null || child.signalCode != null) return
    const gone = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGKILL')
    await gone
  }))
  running.clear()
}

/** Loopback args for a node on ephemeral ports. */
export function loopbackArgs (role: string, dataDir: string, extra: string[] = []): string[] {
  // The full benchmark job takes ≈ 17 s of CPU: tests that need it ask for it.
  const bench = role === 'provider' && !extra.includes('--benchmark') ? ['--benchmark', 'skip'] : []
  // Tests that need containers give --containers docker (and DOCKER_HOST) themselves.
  const containers = role === 'provider' && !extra.includes('--containers') ? ['--containers', 'none'] : []
  return ['--role', role, '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--log-level', 'info', ...bench, ...containers, ...extra]
}

export function pidAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}
