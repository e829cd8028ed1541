// ContainerRuntime on a real Docker engine, through dockerode (DOCKER_HOST or the default socket).
//
// Choices that matter for a provider:
// - Containers are named `kaisar-lease-<lease id>`: the engine itself refuses a second container for
//   a lease (a retried or raced deploy cannot start two copies). They are addressed by that name and
//   recognised as ours by their labels (`kaisar.managed=true`, `kaisar.lease`, `kaisar.owner`).
// - Restart policy `no`, never auto-removed: a container that dies stays `exited` with its exit code
//   until `stop`, whatever restarts in between (provider or engine). Nothing re-creates it.
// - Ports are published on 127.0.0.1 with ephemeral host ports: only the provider's tunnels reach
//   them. Memory limits disable swap beyond the limit, so `memoryBytes` means what it says.
// - The API version is negotiated like the docker CLI does: the highest version both sides speak,
//   at least 1.41 (Docker 20.10, the oldest engine we support; DeviceRequests need 1.40).
import http from 'node:http'
import type { IncomingMessage } from 'node:http'
import Dockerode from 'dockerode'
import { errorMessage, systemErrorCode } from '../errors.js'
import {
  ContainerDeployError, ContainerEngineError, ContainerNotFoundError, LABEL_GPU_MODEL, LABEL_LEASE, LABEL_MANAGED, LABEL_OWNER,
  LEASE_ID_PATTERN, RuntimeUnavailableError, validateContainerSpec
} from './runtime.js'
import type {
  ContainerDeployCode, ContainerExit, ContainerRuntime, ContainerSpec, ContainerState, DeployEvent, EngineInfo, LeaseContainer, LogChunk, LogOptions, PortMapping
} from './runtime.js'

/** The oldest and newest Docker API versions this code is written and tested against. */
const MIN_API = '1.41'
const MAX_API = '1.47'
const DEFAULT_SOCKET = '/var/run/docker.sock'
const CONTAINER_PREFIX = 'kaisar-lease-'

export interface DockerRuntimeOptions {
  /**
   * The engine, DOCKER_HOST style: `unix:///path/docker.sock` or `tcp://host:port` (plain HTTP).
   * Default: the environment's DOCKER_HOST (TLS and ssh as docker-modem reads them), else
   * unix:///var/run/docker.sock.
   */
  dockerHost?: string
  /**
   * The node these containers belong to (a provider's peer id). Set, it is labelled on every
   * container and `list`/`inspect`/`stop` see only its containers: providers sharing one engine (the
   * devnet) never adopt each other's. Unset, every kaisar-managed container on the engine is ours.
   */
  owner?: string
  /** `missing` (default): pull an image the engine does not have. `never`: such a deploy fails with IMAGE_NOT_FOUND. */
  pull?: 'missing' | 'never'
  /** Bound on short engine calls (version, info), ms. Default 10 s. */
  requestTimeoutMs?: number
}

interface Client { docker: Dockerode, apiVersion: string, serverVersion: string }
/** The parts of the engine's /version and /info answers we use. */
interface VersionResponse { Version: string, ApiVersion: string, MinAPIVersion?: string }
interface InfoResponse { NCPU: number, MemTotal: number, Runtimes?: Record<string, unknown> }

/** How an engine call failed, in the engine's words where it gave any. */
interface EngineFailure { status?: number, reason: string, unreachable: boolean, aborted: boolean }

export class DockerRuntime implements ContainerRuntime {
  readonly kind = 'docker'
  /** Where the engine is, DOCKER_HOST style, and how that was decided (for messages). */
  readonly endpoint: string
  private readonly endpointSource: string
  private readonly modemOptions: Dockerode.DockerOptions & { agent?: http.Agent }
  private readonly owner: string | undefined
  private readonly pullPolicy: 'missing' | 'never'
  private readonly requestTimeoutMs: number
  // Our own agent, so `close` can drop its idle keep-alive sockets.
  private readonly agent = new http.Agent({ keepAlive: true })
  private client?: Promise<Client>
  private readonly active = new Set<AbortController>()
  private closed = false

  constructor (options: DockerRuntimeOptions = {}) {
    this.owner = options.owner
    this.pullPolicy = options.pull ?? 'missing'
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000
    const fromEnv = process.env.DOCKER_HOST
    const host = options.dockerHost ?? (fromEnv != null && fromEnv !== '' ? fromEnv : undefined)
    this.endpointSource = options.dockerHost != null ? 'given' : host != null ? 'from DOCKER_HOST' : 'the default socket; set DOCKER_HOST for another engine'
    this.endpoint = host ?? `unix://${DEFAULT_SOCKET}`
    this.modemOptions = { ...modemOptionsFor(this.endpoint, options.dockerHost == null), agent: this.agent }
  }

  async check (options: { signal?: AbortSignal } = {}): Promise<EngineInfo> {
    const client = await this.connect()
    let info: InfoResponse
    try {
      info = await dial<InfoResponse>(client.docker, { path: '/info', method: 'GET', statusCodes: { 200: true, 500: 'server error' }, abortSignal: anySignal(options.signal, AbortSignal.timeout(this.requestTimeoutMs)) })
    } catch (err) {
      this.client = undefined // reconnect (and renegotiate) next time: the engine may have been replaced
      throw this.unavailable(err)
    }
    const runtimes = Object.keys(info.Runtimes ?? {})
    const gpu: EngineInfo['gpu'] = runtimes.includes('nvidia')
      ? { status: 'available', detail: 'the engine has the nvidia runtime' }
      : { status: 'unknown', detail: `no nvidia runtime on the engine (runtimes: ${runtimes.join(', ') || 'none'}); a GPU request fails at start unless the NVIDIA Container Toolkit is installed where the engine runs` }
    return {
      kind: this.kind,
      endpoint: this.endpoint,
      version: client.serverVersion,
      apiVersion: client.apiVersion,
      cpus: info.NCPU,
      memoryBytes: info.MemTotal,
      gpu
    }
  }

  async deploy (spec: ContainerSpec, onEvent: (event: DeployEvent) => void = () => {}, options: { signal?: AbortSignal } = {}): Promise<LeaseContainer> {
    validateContainerSpec(spec)
    const { signal } = options
    // A listener's failure (say, a closed event stream to the user) must not strand a half-made container.
    const emit = (event: DeployEvent): void => { try { onEvent(event) } catch {} }
    const fail = (code: ContainerDeployCode, reason: string, message?: string): ContainerDeployError => new ContainerDeployError(code, spec, reason, message)
    const cancelled = (): ContainerDeployError => fail('CANCELLED', 'the deployment was cancelled')

    let client: Client
    try {
      client = await this.connect()
    } catch (err) {
      const reason = err instanceof RuntimeUnavailableError ? err.type.reason : errorMessage(err)
      throw fail('RUNTIME_UNAVAILABLE', reason, `lease ${spec.leaseId}: ${errorMessage(err)}`)
    }
    const { docker } = client
    if (isAborted(signal)) throw cancelled()

    if (!await this.imagePresent(docker, spec)) {
      if (this.pullPolicy === 'never') throw fail('IMAGE_NOT_FOUND', `image ${spec.image} is not on the engine (pulling is disabled)`)
      await this.pull(docker, spec, emit, signal)
    }
    if (isAborted(signal)) throw cancelled()

    emit({ kind: 'creating', image: spec.image })
    let container: Dockerode.Container
    try {
      container = await docker.createContainer(this.createOptions(spec))
    } catch (err) {
      const f = this.describe(err)
      if (f.unreachable) throw fail('RUNTIME_UNAVAILABLE', f.reason, `lease ${spec.leaseId}: lost the Docker engine at ${this.endpoint}: ${f.reason}`)
      if (f.status === 409) throw fail('ALREADY_EXISTS', f.reason, `lease ${spec.leaseId} already has a container (${f.reason})`)
      if (f.status === 404) throw fail('IMAGE_NOT_FOUND', f.reason, `lease ${spec.leaseId}: image ${spec.image}: ${f.reason}`)
      // The engine checks limits against the machine (CPUs it has, minimum memory): 400 Bad Request.
      if (f.status === 400) throw fail('INVALID_SPEC', f.reason, `lease ${spec.leaseId}: the engine refused the container: ${f.reason}`)
      throw fail('ENGINE_ERROR', f.reason, `lease ${spec.leaseId}: creating the container failed: ${f.reason}`)
    }

    try {
      emit({ kind: 'starting', containerId: container.id })
      if (isAborted(signal)) throw cancelled()
      try {
        await container.start()
      } catch (err) {
        const f = this.describe(err)
        if (f.unreachable) throw fail('RUNTIME_UNAVAILABLE', f.reason, `lease ${spec.leaseId}: lost the Docker engine at ${this.endpoint}: ${f.reason}`)
        // Docker resolves the GPU driver only at start: `could not select device driver "nvidia" with capabilities: [[gpu]]`.
        if (spec.gpus != null && /device driver|nvidia|gpu/i.test(f.reason)) {
          throw fail('GPU_UNAVAILABLE', f.reason, `lease ${spec.leaseId}: ${spec.gpus.count} GPU(s) requested but this engine cannot provide GPUs: ${f.reason}`)
        }
        throw fail('START_FAILED', f.reason, `lease ${spec.leaseId}: the container did not start: ${f.reason}`)
      }
      if (isAborted(signal)) throw cancelled()
      const info = await container.inspect()
      return toLeaseContainer(spec.leaseId, info)
    } catch (err) {
      // Nothing is left behind by a failed deployment.
      await container.remove({ force: true, v: true }).catch(() => {})
      if (err instanceof ContainerDeployError) throw err
      const f = this.describe(err)
      throw fail(f.unreachable ? 'RUNTIME_UNAVAILABLE' : 'ENGINE_ERROR', f.reason, `lease ${spec.leaseId}: ${f.reason}`)
    }
  }

  async inspect (leaseId: string): Promise<LeaseContainer | undefined> {
    const info = await this.inspectLease(leaseId, 'inspect')
    return info == null ? undefined : toLeaseContainer(leaseId, info)
  }

  async list (): Promise<LeaseContainer[]> {
    const { docker } = await this.connect()
    const label = [`${LABEL_MANAGED}=true`]
    if (this.owner != null) label.push(`${LABEL_OWNER}=${this.owner}`)
    let found: Dockerode.ContainerInfo[]
    try {
      found = await docker.listContainers({ all: true, filters: { label } })
    } catch (err) {
      throw this.engineFailure('list', err)
    }
    const out: LeaseContainer[] = []
    for (const c of found) {
      const leaseId = c.Labels[LABEL_LEASE]
      if (leaseId == null) continue
      let info: Dockerode.ContainerInspectInfo
      try {
        info = await docker.getContainer(c.Id).inspect()
      } catch (err) {
        if (this.describe(err).status === 404) continue // removed since it was listed
        throw this.engineFailure('list', err)
      }
      out.push(toLeaseContainer(leaseId, info))
    }
    return out.sort((a, b) => a.createdAt - b.createdAt)
  }

  async stop (leaseId: string, options: { graceSeconds?: number } = {}): Promise<boolean> {
    const info = await this.inspectLease(leaseId, 'stop')
    if (info == null) return false
    const { docker } = await this.connect()
    const container = docker.getContainer(info.Id)
    try {
      if (info.State.Running || info.State.Paused || info.State.Restarting) await container.stop({ t: options.graceSeconds ?? 10 })
    } catch (err) {
      const f = this.describe(err)
      // 304: it stopped on its own meanwhile; 404: someone removed it meanwhile.
      if (f.status !== 304 && f.status !== 404) throw this.engineFailure('stop', err)
    }
    try {
      await container.remove({ force: true, v: true })
    } catch (err) {
      const f = this.describe(err)
      // 404: already gone; 409 "removal … already in progress": a concurrent stop is removing it.
      if (f.status === 404) return false
      if (f.status !== 409) throw this.engineFailure('stop', err)
    }
    return true
  }

  async * logs (leaseId: string, options: LogOptions = {}): AsyncGenerator<LogChunk> {
    const info = await this.inspectLease(leaseId, 'logs')
    if (info == null) throw new ContainerNotFoundError(leaseId)
    const { docker } = await this.connect()
    const op = this.track(options.signal)
    let res: IncomingMessage | undefined
    try {
      try {
        res = await dial<IncomingMessage>(docker, {
          path: `/containers/${info.Id}/logs?`,
          method: 'GET',
          // Always a stream (dockerode buffers and JSON-sniffs non-follow logs): one code path, no size limit.
          isStream: true,
          statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
          options: { stdout: true, stderr: true, follow: options.follow === true, tail: options.tail != null ? String(options.tail) : 'all' },
          abortSignal: op.signal
        })
      } catch (err) {
        if (op.signal.aborted) return
        if (this.describe(err).status === 404) throw new ContainerNotFoundError(leaseId)
        throw this.engineFailure('logs', err)
      }
      // A container with a TTY has one unframed stream; ours never have one, but `list` may find any.
      if (info.Config.Tty) {
        for await (const chunk of res as AsyncIterable<Buffer>) yield { stream: 'stdout', data: chunk }
      } else {
        yield * demuxDockerStream(res as AsyncIterable<Buffer>)
      }
    } catch (err) {
      if (op.signal.aborted) return // the caller (or close) ended it: not an error
      throw err
    } finally {
      res?.destroy()
      op.done()
    }
  }

  async wait (leaseId: string, options: { signal?: AbortSignal } = {}): Promise<ContainerExit> {
    const info = await this.inspectLease(leaseId, 'wait')
    if (info == null) throw new ContainerNotFoundError(leaseId)
    const { docker } = await this.connect()
    const container = docker.getContainer(info.Id)
    const op = this.track(options.signal)
    let result: { StatusCode?: number, Error?: { Message?: string } | null }
    try {
      result = await container.wait({ condition: 'not-running', abortSignal: op.signal })
    } catch (err) {
      if (options.signal?.aborted === true) throw options.signal.reason
      if (op.signal.aborted) throw new RuntimeUnavailableError('RUNTIME_UNAVAILABLE', this.endpoint, 'runtime closed', 'the container runtime was closed')
      if (this.describe(err).status === 404) throw new ContainerNotFoundError(leaseId)
      throw this.engineFailure('wait', err)
    } finally {
      op.done()
    }
    // The wait's answer has the exit code only; the rest (OOM kill, engine error, time) is in inspect.
    try {
      let after = await container.inspect()
      // The engine learns of an OOM kill from a separate kernel event that can trail the exit by a
      // few ms: for a SIGKILL exit (137), give it a moment before saying it was not one.
      for (let i = 0; i < 5 && after.State.ExitCode === 137 && !after.State.OOMKilled; i++) {
        await new Promise(resolve => setTimeout(resolve, 50))
        after = await container.inspect()
      }
      const lease = toLeaseContainer(leaseId, after)
      if (lease.exit != null) return lease.exit
      return { exitCode: after.State.ExitCode, oomKilled: after.State.OOMKilled, ...(after.State.Error !== '' ? { error: after.State.Error } : {}) }
    } catch (err) {
      if (this.describe(err).status !== 404) throw this.engineFailure('wait', err)
      const message = result.Error?.Message
      return { exitCode: result.StatusCode ?? -1, oomKilled: false, removed: true, ...(message != null && message !== '' ? { error: message } : {}) }
    }
  }

  async close (): Promise<void> {
    this.closed = true
    for (const op of this.active) op.abort()
    this.active.clear()
    this.agent.destroy()
  }

  // ---- internals ------------------------------------------------------------------------------------

  /** A client speaking the negotiated API version; negotiated once, again after a failed check. */
  private async connect (): Promise<Client> {
    if (this.closed) throw new RuntimeUnavailableError('RUNTIME_UNAVAILABLE', this.endpoint, 'runtime closed', 'the container runtime was closed')
    this.client ??= this.negotiate().catch((err: unknown) => { this.client = undefined; throw err })
    return await this.client
  }

  private async negotiate (): Promise<Client> {
    // Unversioned, /version is answered by every engine in its own current version.
    const raw = new Dockerode(this.modemOptions)
    let v: VersionResponse
    try {
      v = await dial<VersionResponse>(raw, { path: '/version', method: 'GET', statusCodes: { 200: true, 500: 'server error' }, abortSignal: AbortSignal.timeout(this.requestTimeoutMs) })
    } catch (err) {
      throw this.unavailable(err)
    }
    const server = v.ApiVersion
    const serverMin = v.MinAPIVersion ?? '1.12'
    // The CLI's rule: the highest version both speak. An engine newer than MAX_API that dropped it
    // (Docker 29 speaks ≥ 1.44) gets its own minimum: the fields we use have not changed.
    let use = compareApi(server, MAX_API) < 0 ? server : MAX_API
    if (compareApi(use, serverMin) < 0) use = serverMin
    if (compareApi(use, MIN_API) < 0) {
      const reason = `engine API ${server} is older than ${MIN_API}`
      throw new RuntimeUnavailableError('RUNTIME_UNSUPPORTED', this.endpoint, reason, `Docker engine ${v.Version} at ${this.endpoint} speaks API ${server}; kaisar-node needs API ${MIN_API} (Docker 20.10) or newer`)
    }
    return { docker: new Dockerode({ ...this.modemOptions, version: `v${use}` }), apiVersion: use, serverVersion: v.Version }
  }

  /** The lease's container, if it is one of ours; undefined when there is none. */
  private async inspectLease (leaseId: string, operation: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
    if (!LEASE_ID_PATTERN.test(leaseId)) return undefined
    const { docker } = await this.connect()
    let info: Dockerode.ContainerInspectInfo
    try {
      info = await docker.getContainer(CONTAINER_PREFIX + leaseId).inspect()
    } catch (err) {
      if (this.describe(err).status === 404) return undefined
      throw this.engineFailure(operation, err)
    }
    const labels = info.Config.Labels ?? {}
    // A container of that name that is not ours (or another owner's) is not this lease's.
    if (labels[LABEL_MANAGED] !== 'true' || labels[LABEL_LEASE] !== leaseId) return undefined
    if (this.owner != null && labels[LABEL_OWNER] !== this.owner) return undefined
    return info
  }

  private async imagePresent (docker: Dockerode, spec: ContainerSpec): Promise<boolean> {
    try {
      await docker.getImage(spec.image).inspect()
      return true
    } catch (err) {
      const f = this.describe(err)
      if (f.status === 404) return false
      throw new ContainerDeployError(f.unreachable ? 'RUNTIME_UNAVAILABLE' : 'ENGINE_ERROR', spec, f.reason, `lease ${spec.leaseId}: image ${spec.image}: ${f.reason}`)
    }
  }

  /** Pulls the image, reporting progress; fails with the engine's (or registry's) message. */
  private async pull (docker: Dockerode, spec: ContainerSpec, emit: (event: DeployEvent) => void, signal: AbortSignal | undefined): Promise<void> {
    const failed = (err: unknown): ContainerDeployError => {
      const f = this.describe(err)
      if (f.aborted || isAborted(signal)) return new ContainerDeployError('CANCELLED', spec, 'the deployment was cancelled during the image pull')
      if (f.unreachable) return new ContainerDeployError('RUNTIME_UNAVAILABLE', spec, f.reason, `lease ${spec.leaseId}: lost the Docker engine at ${this.endpoint}: ${f.reason}`)
      const code = /not found|does not exist|manifest unknown|pull access denied|repository name must|invalid reference/i.test(f.reason) ? 'IMAGE_NOT_FOUND' : 'IMAGE_PULL_FAILED'
      return new ContainerDeployError(code, spec, f.reason, `lease ${spec.leaseId}: image ${spec.image} is not on the engine and could not be pulled: ${f.reason}`)
    }
    const progress = new PullProgress(spec.image, emit)
    progress.start()
    let stream: NodeJS.ReadableStream
    try {
      stream = await docker.pull(spec.image, signal != null ? { abortSignal: signal } : {})
    } catch (err) {
      throw failed(err)
    }
    try {
      // Newline-delimited JSON; a failure mid-pull arrives as a line with `error`, not as an HTTP error.
      let buffered = ''
      for await (const chunk of stream as AsyncIterable<Buffer | string>) {
        buffered += chunk.toString()
        let nl: number
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim()
          buffered = buffered.slice(nl + 1)
          if (line === '') continue
          const msg = JSON.parse(line) as PullMessage
          if (msg.error != null) throw new Error(msg.errorDetail?.message ?? msg.error)
          progress.update(msg)
        }
      }
      progress.finish()
    } catch (err) {
      throw failed(err)
    }
  }

  private createOptions (spec: ContainerSpec): Dockerode.ContainerCreateOptions {
    const labels: Record<string, string> = { ...spec.labels, [LABEL_MANAGED]: 'true', [LABEL_LEASE]: spec.leaseId }
    if (this.owner != null) labels[LABEL_OWNER] = this.owner
    if (spec.gpus?.model != null) labels[LABEL_GPU_MODEL] = spec.gpus.model
    const hostConfig: Dockerode.HostConfig = {
      // Empty HostPort: the engine picks a free ephemeral port, on 127.0.0.1 only.
      PortBindings: Object.fromEntries(spec.ports.map(p => [`${p}/tcp`, [{ HostIp: '127.0.0.1', HostPort: '' }]])),
      PublishAllPorts: false,
      RestartPolicy: { Name: 'no' },
      AutoRemove: false,
      // A user's container can write without end: bound what its logs take on the provider's disk.
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } }
    }
    if (spec.cpus != null) hostConfig.NanoCpus = Math.round(spec.cpus * 1e9)
    if (spec.memoryBytes != null) {
      hostConfig.Memory = spec.memoryBytes
      hostConfig.MemorySwap = spec.memoryBytes // equal to Memory: no swap on top of the limit
    }
    if (spec.gpus != null) {
      hostConfig.DeviceRequests = [spec.gpus.deviceIds != null
        ? { Driver: 'nvidia', DeviceIDs: spec.gpus.deviceIds, Capabilities: [['gpu']] }
        : { Driver: 'nvidia', Count: spec.gpus.count, Capabilities: [['gpu']] }]
    }
    return {
      name: CONTAINER_PREFIX + spec.leaseId,
      Image: spec.image,
      ...(spec.cmd != null ? { Cmd: spec.cmd } : {}),
      Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
      Labels: labels,
      ExposedPorts: Object.fromEntries(spec.ports.map(p => [`${p}/tcp`, {}])),
      Tty: false,
      OpenStdin: false,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      HostConfig: hostConfig
    }
  }

  /** An AbortController for a long call (wait, logs), ended by the caller's signal or by close(). */
  private track (signal: AbortSignal | undefined): { signal: AbortSignal, done: () => void } {
    const ctrl = new AbortController()
    const onAbort = (): void => { ctrl.abort(signal?.reason) }
    if (signal?.aborted === true) ctrl.abort(signal.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    this.active.add(ctrl)
    return { signal: ctrl.signal, done: () => { signal?.removeEventListener('abort', onAbort); this.active.delete(ctrl) } }
  }

  private describe (err: unknown): EngineFailure {
    const e = (typeof err === 'object' && err != null ? err : {}) as { statusCode?: unknown, json?: unknown, name?: unknown }
    const status = typeof e.statusCode === 'number' ? e.statusCode : undefined
    let reason: string | undefined
    if (typeof e.json === 'object' && e.json != null && typeof (e.json as { message?: unknown }).message === 'string') {
      reason = (e.json as { message: string }).message
    } else if (Buffer.isBuffer(e.json) && e.json.length > 0) {
      reason = e.json.toString().trim()
    }
    // docker-modem's own wording is "(HTTP code 404) no such container - <engine message> ".
    reason ??= errorMessage(err).replace(/^\(HTTP code \d+\) [^-]* - /, '').trim()
    const code = systemErrorCode(err)
    const unreachable = status == null && (['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'ENETUNREACH'].includes(code ?? '') || /socket hang up/i.test(reason))
    const aborted = e.name === 'AbortError' || code === 'ABORT_ERR'
    return { status, reason, unreachable, aborted }
  }

  private unavailable (err: unknown): RuntimeUnavailableError {
    const f = this.describe(err)
    const reason = f.aborted ? `no answer within ${this.requestTimeoutMs} ms` : f.reason
    return new RuntimeUnavailableError('RUNTIME_UNAVAILABLE', this.endpoint, reason, `no Docker engine at ${this.endpoint} (${this.endpointSource}): ${reason}`)
  }

  private engineFailure (operation: string, err: unknown): Error {
    const f = this.describe(err)
    if (f.unreachable) {
      this.client = undefined
      return this.unavailable(err)
    }
    return new ContainerEngineError(operation, f.reason, f.status)
  }
}

// ---- helpers ----------------------------------------------------------------------------------------

/** docker-modem options for a DOCKER_HOST-style endpoint; `{}` lets docker-modem read the environment itself (TLS, ssh). */
function modemOptionsFor (endpoint: string, fromEnvironment: boolean): Dockerode.DockerOptions {
  if (endpoint.startsWith('unix://')) return { socketPath: endpoint.slice('unix://'.length) || DEFAULT_SOCKET }
  const m = /^(?:tcp|http):\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(endpoint)
  if (m != null) return { host: m[1], port: Number(m[2]), protocol: 'http' }
  if (fromEnvironment) return {}
  throw new RuntimeUnavailableError('RUNTIME_UNSUPPORTED', endpoint, 'unsupported endpoint', `Docker endpoint ${endpoint}: use unix:///path/to/docker.sock or tcp://host:port (or DOCKER_HOST for TLS and ssh)`)
}

// A function, not `signal?.aborted` inline: TypeScript would narrow `aborted` to false after the
// first check and call the later ones (after awaits, when it can have changed) unreachable.
function isAborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

function anySignal (...signals: Array<AbortSignal | undefined>): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s != null))
}

function dial<T> (docker: Dockerode, options: Parameters<Dockerode['modem']['dial']>[0]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    docker.modem.dial(options, (err, data) => { if (err != null) reject(err); else resolve(data as T) })
  })
}

/** Compares dotted API versions numerically ("1.9" < "1.41"). */
function compareApi (a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

const NEVER = '0001-01-01T00:00:00Z'
function time (value: string | undefined): number | undefined {
  if (value == null || value === '' || value.startsWith('0001-01-01')) return undefined
  const t = Date.parse(value)
  return Number.isNaN(t) ? undefined : t
}

function stateOf (status: string): ContainerState {
  switch (status) {
    case 'created': return 'created'
    case 'running': case 'paused': case 'restarting': return 'running'
    default: return 'exited' // exited, dead, removing
  }
}

/** The engine's view of a container, in the runtime's terms. */
function toLeaseContainer (leaseId: string, info: Dockerode.ContainerInspectInfo): LeaseContainer {
  const state = stateOf(info.State.Status)
  const ports: PortMapping[] = []
  for (const [key, bindings] of Object.entries(info.NetworkSettings.Ports ?? {})) {
    const [port, proto] = key.split('/')
    if (proto !== 'tcp' || bindings == null) continue
    for (const b of bindings) {
      if (b.HostPort == null || b.HostPort === '') continue
      ports.push({ containerPort: Number(port), hostIp: b.HostIp ?? '', hostPort: Number(b.HostPort) })
    }
  }
  ports.sort((a, b) => a.containerPort - b.containerPort || a.hostPort - b.hostPort)
  const hc = info.HostConfig
  const limits: LeaseContainer['limits'] = {}
  if (hc.NanoCpus != null && hc.NanoCpus > 0) limits.cpus = hc.NanoCpus / 1e9
  if (hc.Memory != null && hc.Memory > 0) limits.memoryBytes = hc.Memory
  const gpus = (hc.DeviceRequests ?? []).reduce((n, r) => n + (r.DeviceIDs?.length ?? r.Count ?? 0), 0)
  if (gpus !== 0) limits.gpus = gpus
  const startedAt = time(info.State.StartedAt)
  const finishedAt = time(info.State.FinishedAt)
  const lease: LeaseContainer = {
    leaseId,
    id: info.Id,
    image: info.Config.Image,
    state,
    createdAt: Date.parse(info.Created),
    ports,
    limits,
    labels: info.Config.Labels ?? {}
  }
  if (startedAt != null) lease.startedAt = startedAt
  if (state === 'exited') {
    lease.exit = { exitCode: info.State.ExitCode, oomKilled: info.State.OOMKilled }
    if (info.State.Error !== '') lease.exit.error = info.State.Error
    if (finishedAt != null && info.State.FinishedAt !== NEVER) lease.exit.finishedAt = finishedAt
  }
  return lease
}

/**
 * Splits Docker's multiplexed attach/logs stream (8-byte frame headers: stream type, 3 zero bytes,
 * big-endian length) into stdout and stderr chunks. Frames may be cut anywhere across reads.
 */
async function * demuxDockerStream (source: AsyncIterable<Uint8Array>): AsyncGenerator<LogChunk> {
  let buf: Buffer = Buffer.alloc(0)
  for await (const chunk of source) {
    buf = buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([buf, chunk])
    while (buf.length >= 8) {
      const type = buf[0]
      const length = buf.readUInt32BE(4)
      if (buf.length < 8 + length) break
      const data = buf.subarray(8, 8 + length)
      buf = buf.subarray(8 + length)
      // 0 would be stdin (never in logs); anything else means the stream is not framed: stop guessing.
      if (type === 1 || type === 2) yield { stream: type === 2 ? 'stderr' : 'stdout', data }
      else throw new Error(`not a multiplexed Docker stream (frame type ${String(type)})`)
    }
  }
  if (buf.length > 0) throw new Error(`Docker log stream ended inside a frame (${buf.length} bytes left)`)
}

interface PullMessage {
  status?: string
  id?: string
  progressDetail?: { current?: number, total?: number }
  error?: string
  errorDetail?: { message?: string }
}

/**
 * Folds the engine's per-layer pull messages into one running total and emits `pulling` events:
 * on every change of a layer's stage, and for byte progress at most every 250 ms.
 */
class PullProgress {
  private readonly layers = new Map<string, { current: number, total: number, done: boolean, status: string }>()
  private status = 'Pulling'
  private lastEmit = 0
  private lastSent = ''

  constructor (private readonly image: string, private readonly emit: (event: DeployEvent) => void, private readonly intervalMs = 250) {}

  start (): void { this.send() }

  update (msg: PullMessage): void {
    if (msg.status == null) return
    this.status = msg.status
    // Layer lines carry a short hex id; others (`Pulling from …`, `Digest: …`) are just status.
    if (msg.id == null || !/^[0-9a-f]{12,64}$/.test(msg.id)) { this.send(); return }
    const layer = this.layers.get(msg.id) ?? { current: 0, total: 0, done: false, status: '' }
    const stageChanged = layer.status !== msg.status
    layer.status = msg.status
    const detail = msg.progressDetail
    if (msg.status === 'Downloading' && detail?.total != null && detail.total > 0) {
      layer.total = detail.total
      layer.current = detail.current ?? layer.current
    } else if (/^(Download complete|Verifying Checksum|Extracting|Pull complete)$/.test(msg.status)) {
      layer.current = layer.total // downloaded in full
    }
    if (msg.status === 'Pull complete' || msg.status === 'Already exists') layer.done = true
    this.layers.set(msg.id, layer)
    if (stageChanged || Date.now() - this.lastEmit >= this.intervalMs) this.send()
  }

  finish (): void { this.send() }

  private send (): void {
    let currentBytes = 0
    let totalBytes = 0
    let layersDone = 0
    for (const l of this.layers.values()) {
      currentBytes += l.current
      totalBytes += l.total
      if (l.done) layersDone++
    }
    const event: DeployEvent = { kind: 'pulling', image: this.image, status: this.status, currentBytes, totalBytes, layersDone, layersTotal: this.layers.size }
    const key = JSON.stringify(event)
    if (key === this.lastSent) return // the engine repeats its last status line
    this.lastSent = key
    this.lastEmit = Date.now()
    this.emit(event)
  }
}
