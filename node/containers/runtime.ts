// The container runtime: what a provider needs from a container engine to serve leases
// (DESIGN §1.5–1.7). Two implementations share this interface: `DockerRuntime`
// (node/containers/docker.ts, a real engine through dockerode) and the simulator's in-memory
// one. So nothing here names Docker: containers are found by lease id, never by engine id, and
// every failure is one of the typed errors below, carrying the engine's own words.
//
// The lease code's contract with a runtime:
// - `deploy` is the only way a container comes to exist, once per lease id; a second deploy for
//   the same lease is refused (`ALREADY_EXISTS`), so a restarted provider never starts a second copy.
// - A container is never restarted or re-created behind the lease code's back: one that died stays
//   visible as `exited` (with its exit code) until `stop` removes it, including across a restart of
//   the provider (`list` re-finds it by its labels) or of the engine.
// - `stop` is idempotent and is what ends a lease; after it nothing of the container is left.
import { KaisarError } from '../errors.js'

/** Labels every lease container carries; `list` finds containers by them after a restart. */
export const LABEL_MANAGED = 'kaisar.managed'
export const LABEL_LEASE = 'kaisar.lease'
/** The node that deployed it (a provider's peer id), so providers sharing one engine (the devnet) keep apart. */
export const LABEL_OWNER = 'kaisar.owner'
/** The GPU model the order asked for, when it named one (see `GpuRequest.model`). */
export const LABEL_GPU_MODEL = 'kaisar.gpu-model'

/** Lease ids become parts of engine object names: letters, digits, `_`, `.`, `-`; at most 128. */
export const LEASE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/

export interface GpuRequest {
  /** How many GPUs, all of them given to the container. */
  count: number
  /**
   * The model the order asked for (e.g. `RTX 4090`). Engines allocate GPUs by count or by device
   * id, not by model: the provider only accepts orders for models it has (its inventory), and may
   * pin exact devices with `deviceIds`. Recorded on the container as a label.
   */
  model?: string
  /** Exact devices (as the engine names them, e.g. nvidia-smi indexes or UUIDs); `count` must match. */
  deviceIds?: string[]
}

/** What to run for a lease. */
export interface ContainerSpec {
  leaseId: string
  /** Image reference; pulled (with progress events) when the engine does not have it. */
  image: string
  /** Command and arguments (exec form); the image's default when absent. */
  cmd?: string[]
  env?: Record<string, string>
  /** CPU limit in CPUs (fractions allowed: 0.5 is half a CPU's time). */
  cpus?: number
  /** Memory limit in bytes; swap is not allowed beyond it. */
  memoryBytes?: number
  gpus?: GpuRequest
  /**
   * Container TCP ports to publish. Each is bound on 127.0.0.1 only, on an ephemeral host port:
   * containers are reached through the provider's tunnels, never directly from the network.
   */
  ports: number[]
  /** Extra labels; keys under `kaisar.` are reserved for the runtime. */
  labels?: Record<string, string>
}

/** One published port: the container's TCP port and where the host serves it. */
export interface PortMapping { containerPort: number, hostIp: string, hostPort: number }

/**
 * `created`: exists, never started (or a start failed). `running`: its main process runs (a paused
 * or restarting container counts as running: it still holds its resources). `exited`: its main
 * process ended; see `exit`.
 */
export type ContainerState = 'created' | 'running' | 'exited'

/** How a container's main process ended. */
export interface ContainerExit {
  exitCode: number
  /**
   * Killed by the kernel for exceeding its memory limit. Engines learn this from a kernel event
   * armed just after start: a process killed in its first milliseconds may show as a plain SIGKILL
   * (exit code 137) instead.
   */
  oomKilled: boolean
  /** The engine's error, when the engine itself failed the container (not the process's own exit). */
  error?: string
  /** Ms timestamp; absent when the engine does not know (e.g. the container is already gone). */
  finishedAt?: number
  /** The container was removed (by `stop`) by the time its exit was learned. */
  removed?: boolean
}

/** A lease's container as the engine reports it now. */
export interface LeaseContainer {
  leaseId: string
  /** The engine's id for it: for logs and operators, never needed to address it. */
  id: string
  image: string
  state: ContainerState
  /** Present when `state` is `exited`. */
  exit?: ContainerExit
  /** Ms timestamps. */
  createdAt: number
  startedAt?: number
  /** Published ports; empty once the container no longer runs. */
  ports: PortMapping[]
  /** The limits the engine applies (as it reports them, not as they were asked for). */
  limits: { cpus?: number, memoryBytes?: number, gpus?: number }
  labels: Record<string, string>
}

/** Progress of a deployment, in order: `pulling` (only when the image is not there yet, repeated as it progresses), `creating`, `starting`. */
export type DeployEvent =
  | {
    kind: 'pulling'
    image: string
    /** The engine's latest status line (e.g. `Downloading`, `Pull complete`). */
    status: string
    /** Bytes downloaded / to download over the layers the engine has announced so far (the total grows as layers are announced). */
    currentBytes: number
    totalBytes: number
    layersDone: number
    layersTotal: number
  }
  | { kind: 'creating', image: string }
  | { kind: 'starting', containerId: string }

export interface LogChunk { stream: 'stdout' | 'stderr', data: Uint8Array }

export interface LogOptions {
  /** Only the last N lines already written (default: all). */
  tail?: number
  /** Keep going with new output until the container stops or the signal aborts. */
  follow?: boolean
  signal?: AbortSignal
}

/** What `check` learned about the engine. */
export interface EngineInfo {
  /** `docker`, `memory`, … */
  kind: string
  /** Where the engine was reached (`unix:///var/run/docker.sock`, …). */
  endpoint: string
  /** The engine's version, and the API version spoken with it where that applies. */
  version: string
  apiVersion?: string
  cpus: number
  memoryBytes: number
  /**
   * Whether GPU requests can succeed. `unknown` when the engine cannot tell without trying (Docker
   * resolves its GPU driver only when a container starts); a GPU deploy then fails with
   * `GPU_UNAVAILABLE` where there is none.
   */
  gpu: { status: 'available' | 'unavailable' | 'unknown', detail: string }
}

export interface ContainerRuntime {
  /** `docker`, `memory`, … */
  readonly kind: string

  /**
   * Reaches the engine and reports what it offers. Throws `RuntimeUnavailableError` (one line,
   * naming the endpoint and how it was chosen) when there is no engine or it is unusable.
   * A provider calls it at start: no engine, no provider.
   */
  check: (options?: { signal?: AbortSignal }) => Promise<EngineInfo>

  /**
   * Creates and starts the lease's container (pulling its image first if needed) with the spec's
   * command, env, limits, GPUs, ports (127.0.0.1 only) and labels, and resolves once it is started,
   * with its host-port map. `onEvent` sees the progress. Every failure is a `ContainerDeployError`
   * carrying the engine's reason, and leaves nothing behind (a container created before the failure
   * is removed). A container that exits right after starting is returned as it is (`exited`): the
   * caller decides whether that fails the lease.
   */
  deploy: (spec: ContainerSpec, onEvent?: (event: DeployEvent) => void, options?: { signal?: AbortSignal }) => Promise<LeaseContainer>

  /** The lease's container now, or undefined when it has none. */
  inspect: (leaseId: string) => Promise<LeaseContainer | undefined>

  /**
   * Every lease container of this runtime's owner, running or not: after a provider restart this is
   * how running leases are re-attached and dead ones are found (as `exited`, with their exit code).
   */
  list: () => Promise<LeaseContainer[]>

  /**
   * Ends the lease's container: asks it to stop (SIGTERM), kills it after `graceSeconds` (default
   * 10), and removes it with its anonymous volumes. Idempotent: resolves false when there was
   * nothing to remove.
   */
  stop: (leaseId: string, options?: { graceSeconds?: number }) => Promise<boolean>

  /**
   * The container's output, stdout and stderr apart, in the order written. With `follow`, goes on
   * until the container stops, the signal aborts, or the consumer stops iterating. Throws
   * `ContainerNotFoundError` for a lease without a container.
   */
  logs: (leaseId: string, options?: LogOptions) => AsyncIterable<LogChunk>

  /**
   * Resolves when the lease's container is not running (at once if it already is not) with how it
   * ended: this is how a provider learns that a container died. Rejects with `ContainerNotFoundError`
   * when there is no container, `RuntimeUnavailableError` when the engine goes away while waiting
   * (wait again once it is back: an exit is never lost, it stays in `inspect`), or the signal's reason.
   */
  wait: (leaseId: string, options?: { signal?: AbortSignal }) => Promise<ContainerExit>

  /** Ends pending waits and log streams and releases connections. The containers are left as they are. */
  close: () => Promise<void>
}

// ---- errors ---------------------------------------------------------------------------------------

/** No usable engine: not reachable, refusing us, or too old. Fix the engine or DOCKER_HOST, then retry. */
export type RuntimeUnavailableCode = 'RUNTIME_UNAVAILABLE' | 'RUNTIME_UNSUPPORTED'
export class RuntimeUnavailableError extends KaisarError<{ code: RuntimeUnavailableCode, endpoint: string, reason: string }> {
  constructor (code: RuntimeUnavailableCode, endpoint: string, reason: string, message: string) {
    super({ code, endpoint, reason }, message)
  }
}

/**
 * Why a deployment failed. `reason` is the engine's own message (what the lease's `failed` event
 * shows the user); the error's message adds what was being done.
 */
export type ContainerDeployCode =
  /** The spec is not acceptable (bad lease id, ports, limits; also limits the engine refuses). */
  | 'INVALID_SPEC'
  /** The lease already has a container. */
  | 'ALREADY_EXISTS'
  /** The image is not on the engine and the registry says it does not exist (or denies it). */
  | 'IMAGE_NOT_FOUND'
  /** The image is not on the engine and could not be pulled (registry unreachable, …). */
  | 'IMAGE_PULL_FAILED'
  /** GPUs were requested and the engine cannot provide them. */
  | 'GPU_UNAVAILABLE'
  /** The engine created the container but could not start it. */
  | 'START_FAILED'
  /** The engine could not be reached. */
  | 'RUNTIME_UNAVAILABLE'
  /** The deploy's signal aborted it (e.g. the lease was cancelled during the pull). */
  | 'CANCELLED'
  /** Any other refusal by the engine. */
  | 'ENGINE_ERROR'
export class ContainerDeployError extends KaisarError<{ code: ContainerDeployCode, leaseId: string, image: string, reason: string }> {
  constructor (code: ContainerDeployCode, spec: { leaseId: string, image: string }, reason: string, message?: string) {
    super({ code, leaseId: spec.leaseId, image: spec.image, reason }, message ?? `lease ${spec.leaseId}: ${reason}`)
  }
}

/** The lease has no container (never deployed, or already stopped). */
export class ContainerNotFoundError extends KaisarError<{ code: 'CONTAINER_NOT_FOUND', leaseId: string }> {
  constructor (leaseId: string) {
    super({ code: 'CONTAINER_NOT_FOUND', leaseId }, `lease ${leaseId} has no container`)
  }
}

/** The engine refused an operation other than a deployment (inspect, stop, logs, wait, list). */
export class ContainerEngineError extends KaisarError<{ code: 'ENGINE_ERROR', operation: string, status?: number, reason: string }> {
  constructor (operation: string, reason: string, status?: number) {
    super({ code: 'ENGINE_ERROR', operation, status, reason }, `${operation}: ${reason}`)
  }
}

// ---- shared validation ----------------------------------------------------------------------------

/**
 * Checks a spec before any engine sees it, the same way for every runtime: lease id, image, ports,
 * limits, env and labels. Throws `ContainerDeployError` (`INVALID_SPEC`) naming the bad field.
 */
export function validateContainerSpec (spec: ContainerSpec): void {
  const bad = (reason: string): never => { throw new ContainerDeployError('INVALID_SPEC', { leaseId: String(spec.leaseId), image: String(spec.image) }, reason) }
  if (typeof spec.leaseId !== 'string' || !LEASE_ID_PATTERN.test(spec.leaseId)) bad(`lease id ${JSON.stringify(spec.leaseId)} must match ${String(LEASE_ID_PATTERN)}`)
  if (typeof spec.image !== 'string' || spec.image.length === 0 || /\s/.test(spec.image)) bad(`image ${JSON.stringify(spec.image)} is not an image reference`)
  if (spec.cmd != null && (!Array.isArray(spec.cmd) || spec.cmd.some(a => typeof a !== 'string'))) bad('cmd must be a list of strings')
  if (!Array.isArray(spec.ports)) bad('ports must be a list of TCP ports')
  for (const p of spec.ports) if (!Number.isInteger(p) || p < 1 || p > 65535) bad(`port ${String(p)} is not a TCP port (1-65535)`)
  if (new Set(spec.ports).size !== spec.ports.length) bad(`ports ${spec.ports.join(',')} repeat a port`)
  if (spec.cpus != null && !(Number.isFinite(spec.cpus) && spec.cpus > 0)) bad(`cpus ${String(spec.cpus)} must be a positive number`)
  if (spec.memoryBytes != null && !(Number.isSafeInteger(spec.memoryBytes) && spec.memoryBytes > 0)) bad(`memory ${String(spec.memoryBytes)} must be a positive number of bytes`)
  if (spec.gpus != null) {
    const { count, deviceIds } = spec.gpus
    if (!Number.isInteger(count) || count < 1) bad(`gpus ${String(count)} must be a positive integer`)
    if (deviceIds != null && deviceIds.length !== count) bad(`gpus: ${deviceIds.length} device ids given for ${count} GPUs`)
  }
  for (const key of Object.keys(spec.env ?? {})) if (key.length === 0 || key.includes('=') || key.includes('\0')) bad(`env name ${JSON.stringify(key)} is not valid`)
  for (const key of Object.keys(spec.labels ?? {})) if (key.startsWith('kaisar.')) bad(`label ${key}: labels under "kaisar." are reserved`)
}
