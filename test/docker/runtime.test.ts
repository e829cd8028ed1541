// DockerRuntime against a real Docker engine (scripts/docker-engine.sh) and the locally built
// kaisar/test-http:1 (HTTP page on :80, /cgi-bin/limits, byte-exact echo on :7). What the runtime
// claims is checked independently where it matters: the engine's own inspect (through a separate
// dockerode client), the kernel's cgroup files read from inside the container, the host's listening
// sockets in /proc/net/tcp.
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import net from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DockerRuntime } from '../../node/containers/docker.js'
import { ContainerDeployError, ContainerNotFoundError, RuntimeUnavailableError } from '../../node/containers/runtime.js'
import type { ContainerSpec, DeployEvent, LeaseContainer } from '../../node/containers/runtime.js'
import { getText, waitFor } from '../helpers/wait.js'
import { TestEngine } from './engine.js'

const IMAGE = 'kaisar/test-http:1'
const PAGE = 'kaisar test-http:1 ok'
const engine = new TestEngine()
// Our own owner label: other test runs sharing the engine never see (or remove) our containers.
const OWNER = `kaisar-test-${process.pid}`
const runtimes: DockerRuntime[] = []
const leases = new Set<string>()
let seq = 0

test.before(async () => { await engine.start() })
// Each test's containers are removed after it, passed or failed. Hooks must not throw (uvu would
// drop the file's results), hence `running`, not `ready()`.
test.after.each(async () => {
  const host = engine.running?.dockerHost
  if (host == null) return
  const rt = new DockerRuntime({ dockerHost: host, owner: OWNER })
  for (const id of leases) await rt.stop(id, { graceSeconds: 0 }).catch(() => {})
  leases.clear()
  await rt.close()
})
test.after(async () => {
  for (const rt of runtimes) await rt.close()
  await engine.stop()
})

function runtime (opts: { owner?: string } = {}): DockerRuntime {
  const rt = new DockerRuntime({ dockerHost: engine.ready().dockerHost, owner: opts.owner ?? OWNER })
  runtimes.push(rt)
  return rt
}

/** A fresh lease id, registered for cleanup. */
function lease (name: string): string {
  const id = `t${process.pid}-${name}-${++seq}`
  leases.add(id)
  return id
}

function spec (leaseId: string, extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return { leaseId, image: IMAGE, ports: [80, 7], ...extra }
}

function hostPort (c: LeaseContainer, containerPort: number): number {
  const m = c.ports.find(p => p.containerPort === containerPort)
  if (m == null) throw new Error(`port ${containerPort} is not published: ${JSON.stringify(c.ports)}`)
  return m.hostPort
}

async function deployError (p: Promise<unknown>): Promise<ContainerDeployError> {
  try {
    await p
  } catch (err) {
    if (err instanceof ContainerDeployError) return err
    throw err
  }
  throw new Error('deploy succeeded; expected a ContainerDeployError')
}

/** Listening TCP sockets on `port` in this host's network namespace: local addresses as hex (`0100007F` = 127.0.0.1). */
async function listeners (port: number): Promise<{ v4: string[], v6: string[] }> {
  const read = async (file: string): Promise<string[]> => {
    const lines = (await fs.readFile(file, 'utf8')).split('\n').slice(1)
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
    return lines.map(l => l.trim().split(/\s+/)).filter(f => f[3] === '0A' && f[1]?.endsWith(`:${hexPort}`) === true).map(f => (f[1] as string).split(':')[0] as string)
  }
  return { v4: await read('/proc/net/tcp'), v6: await read('/proc/net/tcp6').catch(() => []) }
}

/** Sends `size` random bytes through an echo server and returns whether exactly the same bytes came back. */
async function echo (port: number, size: number): Promise<{ same: boolean, received: number }> {
  return await new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1')
    const sent = crypto.createHash('sha256')
    const got = crypto.createHash('sha256')
    let received = 0
    const timer = setTimeout(() => { sock.destroy(new Error(`echo of ${size} bytes timed out after ${received} bytes`)) }, 120_000)
    sock.on('data', (d: Buffer) => { got.update(d); received += d.length })
    sock.on('error', err => { clearTimeout(timer); reject(err) })
    sock.on('end', () => { clearTimeout(timer); sock.end(); resolve({ same: sent.digest('hex') === got.digest('hex'), received }) })
    sock.on('connect', () => {
      void (async () => {
        const block = crypto.randomBytes(1 << 20)
        for (let off = 0; off < size;) {
          // Odd-sized writes, so frames never line up with anything on the way.
          const n = Math.min(size - off, 65_537 + (off % 1000))
          const chunk = block.subarray(off % block.length, Math.min(block.length, off % block.length + n))
          sent.update(chunk)
          off += chunk.length
          if (!sock.write(chunk)) await new Promise(resolve => sock.once('drain', resolve))
        }
        sock.end() // half-close: the echo finishes what it has, then closes its side
      })().catch(reject)
    })
  })
}

async function text (it: AsyncIterable<{ stream: string, data: Uint8Array }>): Promise<{ stdout: string, stderr: string }> {
  const out = { stdout: '', stderr: '' }
  for await (const c of it) out[c.stream as 'stdout' | 'stderr'] += Buffer.from(c.data).toString()
  return out
}

// ---- the engine ----------------------------------------------------------------------------------

test('check() reaches the engine and negotiates an API version of at least 1.41', async () => {
  const info = await runtime().check()
  assert.is(info.kind, 'docker')
  assert.is(info.endpoint, engine.ready().dockerHost)
  assert.match(info.version, /^\d+\.\d+/)
  const [major, minor] = (info.apiVersion ?? '').split('.').map(Number)
  assert.ok(major === 1 && (minor ?? 0) >= 41, `negotiated API ${String(info.apiVersion)}`)
  assert.ok(info.cpus >= 1 && info.memoryBytes > 0)
  assert.ok(['available', 'unavailable', 'unknown'].includes(info.gpu.status))
})

test('no engine behind the socket: RuntimeUnavailableError, one line naming the socket and DOCKER_HOST', async () => {
  const missing = `/tmp/kaisar-no-engine-${process.pid}.sock`
  const saved = process.env.DOCKER_HOST
  process.env.DOCKER_HOST = `unix://${missing}`
  const rt = new DockerRuntime()
  runtimes.push(rt)
  if (saved == null) delete process.env.DOCKER_HOST; else process.env.DOCKER_HOST = saved
  try {
    await rt.check()
    assert.unreachable('check() passed without an engine')
  } catch (err) {
    assert.instance(err, RuntimeUnavailableError)
    const e = err as RuntimeUnavailableError
    assert.is(e.code, 'RUNTIME_UNAVAILABLE')
    assert.is(e.type.endpoint, `unix://${missing}`)
    assert.ok(e.message.includes(missing) && e.message.includes('DOCKER_HOST'), e.message)
    assert.not.match(e.message, /\n/)
  }
  // deploy says the same, as a ContainerDeployError the lease code can report as `failed`.
  const err = await deployError(rt.deploy(spec(lease('noengine'))))
  assert.is(err.code, 'RUNTIME_UNAVAILABLE')
  assert.ok(err.message.includes(missing), err.message)
})

// ---- deploy --------------------------------------------------------------------------------------

test('deploy: the page is served on 127.0.0.1, limits, env and labels applied as asked', async () => {
  const rt = runtime()
  const id = lease('deploy')
  const events: DeployEvent[] = []
  const memoryBytes = 64 * 1024 * 1024
  const c = await rt.deploy(spec(id, { cpus: 0.5, memoryBytes, env: { GREETING: 'hello world' }, labels: { app: 'test' } }), e => events.push(e))

  assert.equal(events.map(e => e.kind), ['creating', 'starting'], 'no pull: the image is local')
  assert.is(c.state, 'running')
  assert.is(c.leaseId, id)
  assert.equal(c.limits, { cpus: 0.5, memoryBytes })
  assert.equal(c.ports.map(p => [p.containerPort, p.hostIp]), [[7, '127.0.0.1'], [80, '127.0.0.1']])
  assert.match(await getText(`http://127.0.0.1:${hostPort(c, 80)}/`), PAGE)

  // The engine's own view, not through the code under test.
  const info = await engine.dockerode().getContainer(c.id).inspect()
  assert.is(info.HostConfig.NanoCpus, 500_000_000)
  assert.is(info.HostConfig.Memory, memoryBytes)
  assert.is(info.HostConfig.MemorySwap, memoryBytes, 'no swap beyond the limit')
  assert.is(info.HostConfig.RestartPolicy?.Name, 'no')
  assert.is(info.Config.Labels['kaisar.managed'], 'true')
  assert.is(info.Config.Labels['kaisar.lease'], id)
  assert.is(info.Config.Labels['kaisar.owner'], OWNER)
  assert.is(info.Config.Labels.app, 'test')
  assert.ok(info.Config.Env.includes('GREETING=hello world'))
  for (const [port, bindings] of Object.entries(info.NetworkSettings.Ports)) {
    assert.ok(bindings.length > 0, `${port} published`)
    for (const b of bindings) assert.is(b.HostIp, '127.0.0.1', `${port} bound on loopback only`)
  }

  // The kernel's view, from inside the container: the cgroup limits really are in force.
  const limits = Object.fromEntries((await getText(`http://127.0.0.1:${hostPort(c, 80)}/cgi-bin/limits`)).trim().split('\n').map(l => l.split('=') as [string, string]))
  if (limits['memory.max'] != null) {
    assert.is(Number(limits['memory.max']), memoryBytes)
    assert.is(limits['cpu.max'], '50000 100000')
  } else {
    assert.is(Number(limits['memory.limit_in_bytes']), memoryBytes)
    assert.is(Number(limits['cpu.cfs_quota_us']) / Number(limits['cpu.cfs_period_us']), 0.5)
  }

  // The host's view: each published port listens on 127.0.0.1 and nowhere else.
  for (const p of c.ports) {
    const l = await listeners(p.hostPort)
    assert.equal(l.v4, ['0100007F'], `port ${p.hostPort} listens on 127.0.0.1 only (got ${l.v4.join(',')})`)
    assert.equal(l.v6, [], `port ${p.hostPort} has no IPv6 listener`)
  }
})

test('the echo port returns exactly the bytes sent (1 byte to 64 MiB)', async () => {
  const c = await runtime().deploy(spec(lease('echo')))
  const port = hostPort(c, 7)
  for (const size of [1, 4096, 65_537, 64 * 1024 * 1024]) {
    const r = await echo(port, size)
    assert.is(r.received, size, `${size} bytes back`)
    assert.ok(r.same, `${size} bytes identical`)
  }
})

test('logs: stdout and stderr apart, tail, and follow until the container ends', async () => {
  const rt = runtime()
  const id = lease('logs')
  await rt.deploy(spec(id, { ports: [], cmd: ['sh', '-c', 'echo out-1; echo err-1 >&2; sleep 0.2; echo out-2; sleep 600'] }))
  const all = await waitFor('three log lines', async () => {
    const t = await text(rt.logs(id))
    return (t.stdout + t.stderr).split('\n').length > 3 ? t : undefined
  })
  assert.is(all.stdout, 'out-1\nout-2\n')
  assert.is(all.stderr, 'err-1\n')
  const last = await text(rt.logs(id, { tail: 1 }))
  assert.is(last.stdout + last.stderr, 'out-2\n', 'tail: 1 is the last line written')

  const id2 = lease('follow')
  await rt.deploy(spec(id2, { ports: [], cmd: ['sh', '-c', 'echo first; sleep 1; echo second; exit 0'] }))
  const followed = await text(rt.logs(id2, { follow: true })) // ends by itself when the container exits
  assert.is(followed.stdout, 'first\nsecond\n')

  // A caller's signal ends a follow quietly.
  const ctrl = new AbortController()
  const got: string[] = []
  setTimeout(() => { ctrl.abort() }, 500)
  for await (const c of rt.logs(id, { follow: true, signal: ctrl.signal })) got.push(Buffer.from(c.data).toString())
  assert.ok(ctrl.signal.aborted && got.join('').includes('out-1'))

  try {
    await text(rt.logs(`t${process.pid}-never-deployed`))
    assert.unreachable('logs of a lease without a container')
  } catch (err) {
    assert.instance(err, ContainerNotFoundError)
  }
})

// ---- failures --------------------------------------------------------------------------------------

test('a missing image fails fast with the engine\'s reason and leaves nothing', async () => {
  const rt = runtime()
  const id = lease('noimage')
  const events: DeployEvent[] = []
  const started = Date.now()
  const err = await deployError(rt.deploy(spec(id, { image: 'kaisar/absent-image:1' }), e => events.push(e)))
  assert.ok(Date.now() - started < 30_000, `failed after ${Date.now() - started} ms`)
  assert.ok(err.code === 'IMAGE_PULL_FAILED' || err.code === 'IMAGE_NOT_FOUND', err.code)
  assert.ok(err.type.reason.length > 0 && err.message.includes(err.type.reason), 'the message carries the engine\'s reason')
  assert.ok(err.message.includes('kaisar/absent-image:1'), err.message)
  assert.is(events[0]?.kind, 'pulling', 'the pull was tried')
  assert.ok(!events.some(e => e.kind === 'creating'))
  assert.is(await rt.inspect(id), undefined)

  const never = new DockerRuntime({ dockerHost: engine.ready().dockerHost, owner: OWNER, pull: 'never' })
  runtimes.push(never)
  const err2 = await deployError(never.deploy(spec(id, { image: 'kaisar/absent-image:1' })))
  assert.is(err2.code, 'IMAGE_NOT_FOUND')
})

test('a GPU request on an engine without GPUs fails with a clear reason, not a hang, and leaves nothing', async () => {
  const rt = runtime()
  if ((await rt.check()).gpu.status === 'available') return // a GPU machine: nothing to refuse
  const id = lease('gpu')
  const started = Date.now()
  const err = await deployError(rt.deploy(spec(id, { gpus: { count: 1, model: 'RTX 4090' } })))
  assert.ok(Date.now() - started < 30_000)
  assert.is(err.code, 'GPU_UNAVAILABLE')
  assert.match(err.message, /1 GPU\(s\) requested but this engine cannot provide GPUs/)
  assert.match(err.type.reason, /nvidia/)
  assert.is(await rt.inspect(id), undefined)
  assert.equal(await engine.dockerode().listContainers({ all: true, filters: { label: [`kaisar.lease=${id}`] } }), [])
})

test('limits: the engine\'s refusals and bad specs are INVALID_SPEC naming the problem', async () => {
  const rt = runtime()
  const tooManyCpus = await deployError(rt.deploy(spec(lease('cpus'), { cpus: 512 })))
  assert.is(tooManyCpus.code, 'INVALID_SPEC')
  assert.match(tooManyCpus.type.reason, /CPU/)
  const tooLittleMemory = await deployError(rt.deploy(spec(lease('mem'), { memoryBytes: 1024 * 1024 })))
  assert.is(tooLittleMemory.code, 'INVALID_SPEC')
  assert.match(tooLittleMemory.type.reason, /memory/i)
  const bads: Array<[Partial<ContainerSpec>, RegExp]> = [[{ ports: [70000] }, /port/], [{ cpus: -1 }, /cpus/], [{ leaseId: 'no spaces here' }, /lease id/], [{ labels: { 'kaisar.lease': 'x' } }, /reserved/], [{ gpus: { count: 0 } }, /gpus/]]
  for (const [bad, field] of bads) {
    const err = await deployError(rt.deploy({ ...spec(lease('bad')), ...bad }))
    assert.is(err.code, 'INVALID_SPEC')
    assert.match(err.message, field)
  }
  assert.equal((await rt.list()).map(c => c.leaseId), [], 'nothing was created')
})

test('a second deploy for the same lease is ALREADY_EXISTS and leaves the first running', async () => {
  const rt = runtime()
  const id = lease('twice')
  const first = await rt.deploy(spec(id))
  const err = await deployError(rt.deploy(spec(id)))
  assert.is(err.code, 'ALREADY_EXISTS')
  const now = await rt.inspect(id)
  assert.is(now?.id, first.id)
  assert.is(now?.state, 'running')
  assert.match(await getText(`http://127.0.0.1:${hostPort(first, 80)}/`), PAGE)
})

// ---- lifecycle ---------------------------------------------------------------------------------------

test('stop removes the container and its port; stopping again is a no-op; nothing labelled remains', async () => {
  const rt = runtime()
  const id = lease('stop')
  const c = await rt.deploy(spec(id))
  const port = hostPort(c, 80)
  assert.is(await rt.stop(id), true)
  assert.is(await rt.stop(id), false)
  assert.is(await rt.inspect(id), undefined)
  assert.ok(!(await rt.list()).some(x => x.leaseId === id))
  assert.equal(await engine.dockerode().listContainers({ all: true, filters: { label: [`kaisar.lease=${id}`] } }), [])
  assert.equal((await listeners(port)).v4, [], 'the host port is closed')
  try {
    await rt.wait(id)
    assert.unreachable('wait on a stopped lease')
  } catch (err) {
    assert.instance(err, ContainerNotFoundError)
  }
})

test('list() from a fresh runtime re-finds running containers (provider restart); other owners see none', async () => {
  const id = lease('restart')
  const before = await runtime().deploy(spec(id))
  const fresh = runtime() // a new process would start exactly like this
  const found = (await fresh.list()).find(c => c.leaseId === id)
  assert.ok(found != null, 'found by its labels')
  assert.is(found?.id, before.id)
  assert.is(found?.state, 'running')
  assert.equal(found?.ports, before.ports)
  assert.match(await getText(`http://127.0.0.1:${hostPort(before, 80)}/`), PAGE)

  const other = runtime({ owner: `${OWNER}-other` })
  assert.ok(!(await other.list()).some(c => c.leaseId === id), 'another owner\'s list')
  assert.is(await other.inspect(id), undefined)
  assert.is(await other.stop(id), false, 'another owner cannot stop it')
  assert.is((await fresh.inspect(id))?.state, 'running')
})

test('a container killed from outside is reported exited with its exit code, and is not restarted', async () => {
  const rt = runtime()
  const id = lease('killed')
  const c = await rt.deploy(spec(id))
  const died = rt.wait(id)
  await engine.dockerode().getContainer(c.id).kill({ signal: 'SIGKILL' })
  const exit = await died
  assert.is(exit.exitCode, 137)
  assert.is(exit.oomKilled, false)
  await new Promise(resolve => setTimeout(resolve, 1500)) // time for any restart policy to act
  const after = (await runtime().list()).find(x => x.leaseId === id) // as a restarted provider sees it
  assert.is(after?.state, 'exited')
  assert.is(after?.exit?.exitCode, 137)
  assert.is(after?.id, c.id, 'the same container, not a re-created one')
  assert.equal(after?.ports, [])
  assert.is((await engine.dockerode().getContainer(c.id).inspect()).RestartCount, 0)
  assert.is((await rt.wait(id)).exitCode, 137, 'wait on a dead container answers at once')
})

test('exit codes and OOM kills are reported as such', async () => {
  const rt = runtime()
  const id = lease('exit3')
  await rt.deploy(spec(id, { ports: [], cmd: ['sh', '-c', 'exit 3'] }))
  assert.equal(await rt.wait(id).then(e => [e.exitCode, e.oomKilled]), [3, false])

  // dd's 64 MiB buffer in a 16 MiB container: the kernel kills it (no swap to escape to). Not at
  // once: a process OOM-killed in its first milliseconds is reported as a plain SIGKILL, because the
  // shim has not armed its OOM watch yet (containerd#8180; 3 runs in 20 here without the sleep).
  const oom = lease('oom')
  await rt.deploy(spec(oom, { ports: [], memoryBytes: 16 * 1024 * 1024, cmd: ['sh', '-c', 'sleep 0.5; exec dd if=/dev/zero of=/dev/null bs=64M count=1'] }))
  const exit = await rt.wait(oom)
  assert.is(exit.oomKilled, true)
  assert.is(exit.exitCode, 137)
  assert.is((await rt.inspect(oom))?.exit?.oomKilled, true)
})

test('close() ends a pending wait and a follow', async () => {
  const rt = new DockerRuntime({ dockerHost: engine.ready().dockerHost, owner: OWNER })
  const id = lease('close')
  await rt.deploy(spec(id, { ports: [] }))
  const waiting = rt.wait(id).then(() => 'resolved', (err: Error) => err)
  const following = text(rt.logs(id, { follow: true }))
  await new Promise(resolve => setTimeout(resolve, 300))
  await rt.close()
  const w = await waiting
  assert.instance(w, RuntimeUnavailableError)
  await following // ends without error
  const fresh = runtime()
  assert.is((await fresh.inspect(id))?.state, 'running', 'closing a runtime leaves its containers alone')
})

test.run()
