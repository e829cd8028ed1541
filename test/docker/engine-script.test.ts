// scripts/docker-engine.sh itself, on engines of its own (own state dirs, so its own bridges,
// subnets and containerd namespaces): idempotent start, status, stop leaving nothing, recovery
// from a SIGKILLed engine, and a clear failure where dockerd cannot start.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Dockerode from 'dockerode'
import { DockerRuntime } from '../../node/containers/docker.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import { getText } from '../helpers/wait.js'
import { runScript, timingsOf } from './engine.js'

const started: string[] = [] // state dirs to stop at the end, whatever happened

test.after(async () => {
  for (const dir of started) await runScript(['stop'], { KAISAR_DOCKER_DIR: dir })
  await removeTempDirs()
})

async function stateDir (): Promise<string> {
  // Short: dockerd's sockets live below it (a unix socket path has at most 107 bytes).
  const dir = path.join(await tempDir('kd-'), 'e')
  started.push(dir)
  return dir
}

async function exists (p: string): Promise<boolean> {
  return await fs.access(p).then(() => true, () => false)
}

/** The process exists and is not a zombie (init here may take a while to reap what it inherits). */
function alive (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

function bridgeExists (name: string): boolean {
  try { execFileSync('ip', ['link', 'show', name], { stdio: 'ignore' }); return true } catch { return false }
}

/** Processes whose command line mentions `needle`. */
async function processesWith (needle: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    const cmd = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    if (cmd.replaceAll('\0', ' ').includes(needle)) pids.push(Number(entry))
  }
  return pids
}

async function mountsUnder (dir: string): Promise<string[]> {
  return (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').map(l => l.split(' ')[4] ?? '').filter(m => m.startsWith(dir + '/'))
}

async function engineEnv (dir: string): Promise<Record<string, string>> {
  const text = await fs.readFile(path.join(dir, 'engine.env'), 'utf8')
  return Object.fromEntries(text.trim().split('\n').map(l => l.split('=') as [string, string]))
}

/** Everything `stop` must have removed. */
async function assertNothingLeft (dir: string, pid: number, bridge: string): Promise<void> {
  assert.not.ok(await exists(dir), `${dir} removed`)
  assert.not.ok(alive(pid), `dockerd ${pid} gone`)
  assert.not.ok(bridgeExists(bridge), `bridge ${bridge} removed`)
  assert.equal(await mountsUnder(dir), [], 'no mounts left')
  assert.equal(await processesWith(dir), [], 'no process of the engine left (containerd, shims)')
}

test('start prints DOCKER_HOST only, is idempotent, rebuilds a missing image; status tells; stop leaves nothing', async () => {
  const dir = await stateDir()
  const env = { KAISAR_DOCKER_DIR: dir }
  const expected = `DOCKER_HOST=unix://${dir}/docker.sock\n`

  const first = await runScript(['start'], env)
  assert.is(first.code, 0, first.stderr)
  assert.is(first.stdout, expected)
  const timings = timingsOf(first.stderr)
  assert.ok(timings.start_s != null && timings.image_build_s != null, first.stderr)
  console.log(`\n  docker-engine.sh: ${JSON.stringify(timings)}`)

  const again = await runScript(['start'], env)
  assert.is(again.code, 0, again.stderr)
  assert.is(again.stdout, expected)
  assert.match(again.stderr, /already running/)
  assert.is(timingsOf(again.stderr).start_s, undefined, 'not started twice')

  const status = await runScript(['status'], env)
  assert.is(status.code, 0)
  assert.is(status.stdout, expected)

  // A container on this engine (alongside any other engine on the machine) serves its page.
  const rt = new DockerRuntime({ dockerHost: `unix://${dir}/docker.sock`, owner: 'engine-script-test' })
  try {
    const c = await rt.deploy({ leaseId: 'script-test', image: 'kaisar/test-http:1', ports: [80] })
    assert.match(await getText(`http://127.0.0.1:${c.ports[0]?.hostPort ?? 0}/`), 'kaisar test-http:1 ok')
  } finally {
    await rt.close()
  }

  // An image removed behind the script's back is rebuilt by the next start.
  await new Dockerode({ socketPath: `${dir}/docker.sock`, version: 'v1.41' }).getImage('kaisar/test-http:1').remove({ force: true })
  const rebuilt = await runScript(['start'], env)
  assert.is(rebuilt.code, 0, rebuilt.stderr)
  assert.ok(timingsOf(rebuilt.stderr).image_build_s != null, 'image rebuilt')

  const pid = Number(await fs.readFile(path.join(dir, 'dockerd.pid'), 'utf8'))
  const { BRIDGE: bridge } = await engineEnv(dir)
  const t0 = Date.now()
  const stop = await runScript(['stop'], env) // with a running container: stop removes it too
  assert.is(stop.code, 0, stop.stderr)
  console.log(`  docker-engine.sh stop (one container running): ${((Date.now() - t0) / 1000).toFixed(2)} s`)
  await assertNothingLeft(dir, pid, bridge ?? '')

  const after = await runScript(['status'], env)
  assert.is(after.code, 3)
  assert.is(after.stdout, '')
  assert.is((await runScript(['stop'], env)).code, 0, 'stop when stopped is fine')
})

test('after a SIGKILLed dockerd, stop and start clean up its containers, shims and mounts', async () => {
  const dir = await stateDir()
  const env = { KAISAR_DOCKER_DIR: dir }
  assert.is((await runScript(['start'], env)).code, 0)
  const rt = new DockerRuntime({ dockerHost: `unix://${dir}/docker.sock` })
  const c = await rt.deploy({ leaseId: 'orphan', image: 'kaisar/test-http:1', ports: [80] })
  await rt.close()
  const containerPid = (await new Dockerode({ socketPath: `${dir}/docker.sock`, version: 'v1.41' }).getContainer(c.id).inspect()).State.Pid
  assert.ok(alive(containerPid))

  const pid = Number(await fs.readFile(path.join(dir, 'dockerd.pid'), 'utf8'))
  process.kill(pid, 'SIGKILL')
  // The signal is delivered asynchronously: until the kernel has taken dockerd down, `status`
  // rightly sees a dockerd that does not answer (exit 1), not a dead one.
  for (const end = Date.now() + 10_000; alive(pid) && Date.now() < end;) await new Promise(resolve => setTimeout(resolve, 50))
  assert.not.ok(alive(pid), 'dockerd died of SIGKILL')
  const status = await runScript(['status'], env)
  assert.is(status.code, 3)
  assert.match(status.stderr, /stale state/)

  // start over the remains: they are cleared first (the container's own processes included).
  const again = await runScript(['start'], env)
  assert.is(again.code, 0, again.stderr)
  assert.match(again.stderr, /clearing stale state/)
  assert.not.ok(alive(containerPid), 'the old container\'s processes are gone')
  assert.equal(await processesWith(c.id), [], 'no shim of the old container')

  const newPid = Number(await fs.readFile(path.join(dir, 'dockerd.pid'), 'utf8'))
  const { BRIDGE: bridge } = await engineEnv(dir)
  process.kill(newPid, 'SIGKILL') // and once more, then only stop
  assert.is((await runScript(['stop'], env)).code, 0)
  await assertNothingLeft(dir, newPid, bridge ?? '')
})

test('where dockerd cannot start, start exits non-zero with the engine\'s message and leaves nothing', async () => {
  const dir = await stateDir()
  const res = await runScript(['start'], { KAISAR_DOCKER_DIR: dir, KAISAR_DOCKERD_FLAGS: '--storage-driver no-such-driver' })
  assert.is.not(res.code, 0)
  assert.is(res.stdout, '', 'no DOCKER_HOST for an engine that is not there')
  assert.match(res.stderr, /^dockerd: .*driver not supported/m) // dockerd's own words
  assert.match(res.stderr, /dockerd exited during start/)
  assert.not.ok(await exists(dir), 'state removed')
  assert.equal(await processesWith(dir), [])
})

test.run()
