// A container runtime for the simulator: a lease's "container" is a TCP server per published
// port on 127.0.0.1 that answers any request with a one-line HTTP 200. Enough for leases to be
// created, reached through tunnels (by users and by checkers acting as users), expire and be
// cancelled, without an engine. Follows the ContainerRuntime contract: one deploy per lease,
// containers outlive `close` (as they outlive a provider restart), `stop` is idempotent.
import net from 'node:net'
import { ContainerDeployError, ContainerNotFoundError, type ContainerExit, type ContainerRuntime, type ContainerSpec, type EngineInfo, type LeaseContainer, type LogChunk } from '../node/containers/runtime.js'

interface SimContainer { info: LeaseContainer, servers: net.Server[], sockets: Set<net.Socket>, exited: Promise<ContainerExit>, exit: (e: ContainerExit) => void }

export class MemoryRuntime implements ContainerRuntime {
  readonly kind = 'memory'
  private readonly containers = new Map<string, SimContainer>()
  private seq = 0

  async check (): Promise<EngineInfo> {
    return { kind: 'memory', endpoint: 'memory://sim', version: '1', cpus: 64, memoryBytes: 256 * 2 ** 30, gpu: { status: 'unavailable', detail: 'simulated' } }
  }

  async deploy (spec: ContainerSpec): Promise<LeaseContainer> {
    if (this.containers.has(spec.leaseId)) throw new ContainerDeployError('ALREADY_EXISTS', spec, 'the lease has a container already')
    const servers: net.Server[] = []
    const sockets = new Set<net.Socket>()
    const ports = []
    for (const containerPort of spec.ports) {
      const server = net.createServer(socket => {
        sockets.add(socket)
        socket.once('close', () => { sockets.delete(socket) })
        socket.once('data', () => { socket.end('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nkaisar-sim\n') })
        socket.on('error', () => {})
      })
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      servers.push(server)
      ports.push({ containerPort, hostIp: '127.0.0.1', hostPort: (server.address() as net.AddressInfo).port })
    }
    let exit!: (e: ContainerExit) => void
    const exited = new Promise<ContainerExit>(resolve => { exit = resolve })
    const now = Date.now()
    const info: LeaseContainer = { leaseId: spec.leaseId, id: `sim-${++this.seq}`, image: spec.image, state: 'running', createdAt: now, startedAt: now, ports, limits: { cpus: spec.cpus, memoryBytes: spec.memoryBytes }, labels: spec.labels ?? {} }
    this.containers.set(spec.leaseId, { info, servers, sockets, exited, exit })
    return { ...info }
  }

  async inspect (leaseId: string): Promise<LeaseContainer | undefined> {
    const c = this.containers.get(leaseId)
    return c == null ? undefined : { ...c.info }
  }

  async list (): Promise<LeaseContainer[]> {
    return [...this.containers.values()].map(c => ({ ...c.info }))
  }

  async stop (leaseId: string): Promise<boolean> {
    const c = this.containers.get(leaseId)
    if (c == null) return false
    this.containers.delete(leaseId)
    for (const s of c.servers) s.close()
    for (const s of c.sockets) s.destroy()
    c.exit({ exitCode: 0, oomKilled: false, finishedAt: Date.now(), removed: true })
    return true
  }

  async * logs (leaseId: string): AsyncIterable<LogChunk> {
    if (!this.containers.has(leaseId)) throw new ContainerNotFoundError(leaseId)
  }

  async wait (leaseId: string, options: { signal?: AbortSignal } = {}): Promise<ContainerExit> {
    const c = this.containers.get(leaseId)
    if (c == null) throw new ContainerNotFoundError(leaseId)
    if (options.signal == null) return await c.exited
    const signal = options.signal
    return await Promise.race([c.exited, new Promise<never>((_resolve, reject) => {
      if (signal.aborted) reject(signal.reason as Error)
      signal.addEventListener('abort', () => { reject(signal.reason as Error) }, { once: true })
    })])
  }

  /** Containers keep running (the contract): the simulator ends them with `removeAll`. */
  async close (): Promise<void> {}

  async removeAll (): Promise<void> {
    for (const leaseId of [...this.containers.keys()]) await this.stop(leaseId)
  }
}
