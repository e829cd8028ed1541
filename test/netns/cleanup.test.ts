// Issue 7, cleanup: `sim/netns/run.js` removes its namespaces and the processes inside them on
// failure and on SIGINT; what a SIGKILLed run leaves (no handler can run then) is removed by
// the next run's stale sweep. Each case runs the real entry point as a child process and
// looks at `ip netns` and the pids inside the namespaces afterwards.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkNetnsSupport, namespacesOf, pidAlive, removeStale, run } from '../../sim/netns/topology.js'

const RUN = fileURLToPath(new URL('../../sim/netns/run.js', import.meta.url))
const children: ChildProcess[] = []
test.after(async () => {
  for (const c of children) if (c.exitCode == null && c.signalCode == null) c.kill('SIGKILL')
  await removeStale()
})

interface Started { child: ChildProcess, stderr: () => string, exited: Promise<number | null> }
function startRun (args: string[], env: Record<string, string> = {}): Started {
  const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  children.push(child)
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdout?.resume()
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  return { child, stderr: () => stderr, exited }
}

async function pidsIn (pid: number): Promise<number[]> {
  const out: number[] = []
  for (const ns of await namespacesOf(pid)) out.push(...(await run('ip', ['netns', 'pids', ns])).split('\n').map(Number).filter(p => p > 0))
  return out
}

/** Until the run's gateway node process is up inside its namespace. */
async function untilNodesRun (r: Started): Promise<number[]> {
  const pid = r.child.pid as number
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (r.child.exitCode != null) throw new Error(`run.js exited early (${r.child.exitCode}): ${r.stderr()}`)
    const names = await namespacesOf(pid)
    if (names.some(n => n.endsWith('-gateway')) && names.some(n => n.endsWith('-provider'))) {
      const inGateway = (await run('ip', ['netns', 'pids', `kz${pid}-gateway`], { allowFail: true })).split('\n').map(Number).filter(p => p > 0)
      const node = inGateway.some(p => { try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('kaisar-node') } catch { return false } })
      if (node) return await pidsIn(pid)
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`run.js did not start its nodes: ${r.stderr()}`)
}

function dataDirsOf (pid: number): string[] {
  return fs.readdirSync(os.tmpdir()).filter(n => n.startsWith(`kz${pid}-`))
}

test('this machine can build namespaces (otherwise the netns tier fails here, saying why)', async () => {
  await checkNetnsSupport()
})

test('a failing run removes everything it made', async () => {
  // An invalid log level makes the gateway refuse to start, after the network was built.
  const r = startRun([], { KAISAR_NETNS_LOG_LEVEL: 'loud' })
  const code = await r.exited
  assert.is(code, 1, r.stderr())
  // It failed where meant to: after the network was up, at the gateway's start.
  assert.match(r.stderr(), /network up in/)
  assert.match(r.stderr(), /failed: .*exited/)
  assert.equal(await namespacesOf(r.child.pid as number), [])
  assert.equal(dataDirsOf(r.child.pid as number), [])
})

test('SIGINT in the middle of a run removes namespaces, processes and data', async () => {
  const r = startRun(['--latency', '20ms'])
  const pids = await untilNodesRun(r)
  assert.ok(pids.length >= 2, `processes inside: ${pids.join(',')}`)
  r.child.kill('SIGINT')
  assert.is(await r.exited, 130, r.stderr())
  assert.equal(await namespacesOf(r.child.pid as number), [])
  assert.equal(pids.filter(pidAlive), [], 'every process inside the namespaces ended')
  assert.equal(dataDirsOf(r.child.pid as number), [])
})

test('what a SIGKILLed run left is removed by the stale sweep', async () => {
  const r = startRun([])
  const pids = await untilNodesRun(r)
  r.child.kill('SIGKILL')
  await r.exited
  const pid = r.child.pid as number
  assert.ok((await namespacesOf(pid)).length > 0, 'a SIGKILLed run leaves its namespaces')
  const removed = await removeStale()
  assert.ok(removed.some(n => n.startsWith(`kz${pid}-`)), removed.join(', '))
  assert.equal(await namespacesOf(pid), [])
  assert.equal(pids.filter(pidAlive), [], 'and the processes inside them')
})

test.run()
