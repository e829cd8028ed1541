// Image pulls through DockerRuntime.deploy, from a registry on 127.0.0.1 (test/docker/registry.ts)
// serving kaisar/test-http:1 under another name: progress events, a registry's "unknown", and a
// deployment cancelled during its pull.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DockerRuntime } from '../../node/containers/docker.js'
import { ContainerDeployError } from '../../node/containers/runtime.js'
import type { DeployEvent } from '../../node/containers/runtime.js'
import { getText } from '../helpers/wait.js'
import { TestEngine } from './engine.js'
import { startRegistry, type FakeRegistry } from './registry.js'

const engine = new TestEngine()
const OWNER = `kaisar-pull-test-${process.pid}`
const REPO = `kaisar/pulled-${process.pid}`
let registry: FakeRegistry | undefined
let rt: DockerRuntime | undefined
const leases = new Set<string>()

test.before(async () => {
  await engine.start()
  const running = engine.running
  if (running == null) return // each test fails with the engine's message (engine.ready())
  rt = new DockerRuntime({ dockerHost: running.dockerHost, owner: OWNER })
  // ~1 MiB of gzipped layer in 32 KiB pieces every 20 ms: about 0.7 s of download to report on.
  registry = await startRegistry(engine.dockerode(), 'kaisar/test-http:1', { repo: REPO, tag: '1', chunkBytes: 32 * 1024, delayMs: 20 })
})

// Every test's containers and pulled images are removed after it, passed or failed (hooks must not throw).
test.after.each(async () => {
  if (rt == null || registry == null) return
  for (const id of leases) await rt.stop(id, { graceSeconds: 0 }).catch(() => {})
  leases.clear()
  await engine.dockerode().getImage(`${registry.host}/${REPO}:1`).remove({ force: true }).catch(() => {})
})

test.after(async () => {
  await rt?.close()
  await registry?.close()
  await engine.stop()
})

function ready (): { rt: DockerRuntime, registry: FakeRegistry } {
  engine.ready()
  if (rt == null || registry == null) throw new Error('the test registry did not start')
  return { rt, registry }
}

function lease (name: string): string {
  const id = `p${process.pid}-${name}`
  leases.add(id)
  return id
}

test('an absent image is pulled with progress events, then created, started and served', async () => {
  const { rt, registry } = ready()
  const image = `${registry.host}/${REPO}:1`
  const events: DeployEvent[] = []
  const c = await rt.deploy({ leaseId: lease('pulled'), image, ports: [80] }, e => events.push(e))

  const kinds = events.map(e => e.kind)
  const firstCreate = kinds.indexOf('creating')
  assert.ok(firstCreate > 0 && kinds.slice(0, firstCreate).every(k => k === 'pulling'), `pulling first, then creating: ${kinds.join(',')}`)
  assert.equal(kinds.slice(firstCreate), ['creating', 'starting'])
  const pulling = events.filter((e): e is Extract<DeployEvent, { kind: 'pulling' }> => e.kind === 'pulling')
  assert.ok(pulling.every(e => e.image === image))
  assert.ok(pulling.some(e => e.totalBytes > 0 && e.currentBytes > 0 && e.currentBytes < e.totalBytes), `some progress in between: ${JSON.stringify(pulling.map(e => [e.status, e.currentBytes, e.totalBytes]))}`)
  for (let i = 1; i < pulling.length; i++) assert.ok((pulling[i]?.currentBytes ?? 0) >= (pulling[i - 1]?.currentBytes ?? 0), 'progress never goes back')
  const last = pulling[pulling.length - 1]
  assert.ok(last != null && last.layersTotal >= 1 && last.layersDone === last.layersTotal && last.currentBytes === last.totalBytes, `finished: ${JSON.stringify(last)}`)
  assert.ok(registry.requests.some(r => /^GET \/v2\/.+\/blobs\/sha256:/.test(r)), 'the engine fetched blobs from the registry')

  assert.is(c.state, 'running')
  assert.match(await getText(`http://127.0.0.1:${c.ports[0]?.hostPort ?? 0}/`), 'kaisar test-http:1 ok')
})

test('an image the registry does not have: IMAGE_NOT_FOUND with the registry\'s words, nothing created', async () => {
  const { rt, registry } = ready()
  const id = lease('unknown')
  try {
    await rt.deploy({ leaseId: id, image: `${registry.host}/${REPO}:no-such-tag`, ports: [80] })
    assert.unreachable('deployed an image the registry does not have')
  } catch (err) {
    assert.instance(err, ContainerDeployError)
    const e = err as ContainerDeployError
    assert.is(e.code, 'IMAGE_NOT_FOUND')
    assert.match(e.type.reason, /manifest unknown|not found/)
    assert.ok(e.message.includes(`${REPO}:no-such-tag`), e.message)
  }
  assert.is(await rt.inspect(id), undefined)
})

test('a deployment cancelled during its pull is CANCELLED and leaves nothing', async () => {
  const { rt, registry } = ready()
  const id = lease('cancelled')
  const ctrl = new AbortController()
  const events: DeployEvent[] = []
  const deploying = rt.deploy({ leaseId: id, image: `${registry.host}/${REPO}:1`, ports: [80] }, e => {
    events.push(e)
    if (e.kind === 'pulling' && e.currentBytes > 0) ctrl.abort() // mid-download
  }, { signal: ctrl.signal })
  try {
    await deploying
    assert.unreachable('a cancelled deployment completed')
  } catch (err) {
    assert.instance(err, ContainerDeployError)
    assert.is((err as ContainerDeployError).code, 'CANCELLED')
  }
  assert.ok(ctrl.signal.aborted, 'aborted mid-download')
  assert.not.ok(events.some(e => e.kind === 'creating'))
  assert.is(await rt.inspect(id), undefined)
})

test.run()
