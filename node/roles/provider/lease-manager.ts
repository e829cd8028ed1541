// The provider's side of a lease (DESIGN §1.5–1.7): verify the payment on the ledger, deploy
// the container, issue the lease token, watch the container, and end the lease (cancel,
// expiry, failure) with the container stopped and removed and the escrow settled through the
// outbox. After a restart, running containers are re-attached by label; a container that
// died is reported failed, never silently re-created; containers of no lease are removed.
import { signatureVerify } from '@polkadot/util-crypto'
import { parseTokenAmount } from '../../../chain/amount.js'
import { DEPLOYED_MESSAGE, DEPLOYING_MESSAGE, leaseCreatePayload, type LeaseEvent, type Order } from '../../../protocols/lease/messages.js'
import { issueLeaseToken } from '../../../protocols/lease/token.js'
import { ContainerDeployError, type ContainerRuntime, type ContainerSpec } from '../../containers/runtime.js'
import { KaisarError } from '../../errors.js'
import { LeaseStore, type LeaseRecord } from './lease-store.js'
import type { Ledger } from '../../../chain/ledger.js'
import type { Outbox } from '../../../chain/outbox.js'
import type { NodeConfig } from '../../config/schema.js'
import type { HardwareProfile } from './hardware-profile.js'
import type { LeaseUsage } from './index.js'
import type { Logger } from '../../log.js'
import type { NodeMetrics } from '../../metrics/registry.js'
import type { TxSigner } from '../../identity/signer.js'
import type { PrivateKey, Startable } from '@libp2p/interface'
import type { StateDb } from '../../store/state-db.js'

export type LeaseRefusal =
  | 'BAD_SIGNATURE' | 'DUPLICATE' | 'NO_ESCROW' | 'ESCROW_MISMATCH' | 'ESCROW_TOO_SHORT' | 'PRICE_TOO_LOW'
  | 'NO_CAPACITY' | 'NO_SUCH_GPU' | 'NO_RUNTIME' | 'UNKNOWN_LEASE' | 'NOT_ALLOWED' | 'LEDGER_UNAVAILABLE'

/** The provider refuses a lease request (before deploying anything). */
export class LeaseRefusedError extends KaisarError<{ code: LeaseRefusal }> {
  constructor (code: LeaseRefusal, message: string) { super({ code }, message) }
}

export interface LeaseManagerComponents {
  config: NodeConfig
  store: LeaseStore
  runtime?: ContainerRuntime
  ledger: Ledger
  outbox: Outbox
  profile: HardwareProfile
  wallet: TxSigner
  privateKey: PrivateKey
  peerId: string
  logger: Logger
  metrics: NodeMetrics
  /** Told when a lease starts running / ends (relay grants for its holder). */
  onRunning?: (lease: LeaseRecord) => void
  onEnded?: (lease: LeaseRecord) => void
  now?: () => number
}

type Emit = (event: LeaseEvent) => void

/** A lease as a checker sees it (see `checkerAccess`). */
export interface CheckerLeaseView {
  leaseId: string
  status: LeaseRecord['status'] | 'unknown'
  ports: number[]
  endedAt?: number
  /** A lease token for the epoch's assigned checkers (running leases with ports only). */
  token?: string
}

export class LeaseManager implements Startable {
  private readonly c: LeaseManagerComponents
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>()
  private readonly deploys = new Map<string, AbortController>()
  private readonly watching = new Map<string, AbortController>()
  private running = false

  constructor (c: LeaseManagerComponents) {
    this.c = c
  }

  private now (): number { return this.c.now?.() ?? Date.now() }
  get store (): LeaseStore { return this.c.store }

  async start (): Promise<void> {
    this.running = true
    await this.c.store.load()
    await this.reattach()
  }

  async stop (): Promise<void> {
    this.running = false
    for (const t of this.expiryTimers.values()) clearTimeout(t)
    for (const a of [...this.deploys.values(), ...this.watching.values()]) a.abort()
    // Containers keep running across a provider restart: leases outlive the process.
  }

  /** Resources of the leases that hold them now. */
  usage (): LeaseUsage {
    const active = this.c.store.active()
    return {
      cpus: active.reduce((s, l) => s + l.order.cpus, 0),
      memoryBytes: active.reduce((s, l) => s + l.order.memoryBytes, 0),
      gpus: active.reduce((s, l) => s + l.order.gpus, 0),
      leases: active.length
    }
  }

  /** Price per hour of `order`, in the ledger's smallest units, from this provider's price list. */
  price (order: Order): bigint {
    const p = this.c.config.provider.prices
    const d = this.c.ledger.decimals
    const milli = (x: number): bigint => BigInt(Math.round(x * 1000))
    const gpuHour = p.gpuHour[order.gpuModel ?? ''] ?? p.gpuHour.default ?? '0'
    return (parseTokenAmount(p.cpuHour, d) * milli(order.cpus) +
      parseTokenAmount(p.memoryGiBHour, d) * milli(order.memoryBytes / 2 ** 30)) / 1000n +
      parseTokenAmount(gpuHour, d) * BigInt(order.gpus)
  }

  /** Whether the order fits now; the reason when it does not. */
  fits (order: Order): { ok: true } | { ok: false, code: LeaseRefusal, reason: string } {
    if (this.c.runtime == null) return { ok: false, code: 'NO_RUNTIME', reason: 'this provider runs no container engine' }
    const cap = this.c.profile.capacity
    const used = this.usage()
    if (order.gpus > 0) {
      const models = this.c.profile.inventory.gpus.map(g => g.model)
      if (order.gpuModel != null && !models.includes(order.gpuModel)) return { ok: false, code: 'NO_SUCH_GPU', reason: `no ${order.gpuModel} here (have ${models.join(', ') || 'no GPUs'})` }
    }
    if (order.cpus > cap.cpus - used.cpus) return { ok: false, code: 'NO_CAPACITY', reason: `${cap.cpus - used.cpus} CPUs free, ${order.cpus} asked` }
    if (order.memoryBytes > cap.memoryBytes - used.memoryBytes) return { ok: false, code: 'NO_CAPACITY', reason: 'not enough free memory' }
    if (order.gpus > cap.gpus - used.gpus) return { ok: false, code: 'NO_CAPACITY', reason: `${cap.gpus - used.gpus} GPUs free, ${order.gpus} asked` }
    return { ok: true }
  }

  /**
   * Handles a create request from `userPeer`: verifies it and the escrow, then deploys,
   * emitting events. Throws LeaseRefusedError before anything is deployed; a deployment
   * failure is an event (`failed`), not a throw.
   */
  async create (req: { leaseId: string, order: Order, user: string, signature: string, holders?: string[] }, userPeer: string, emit: Emit): Promise<void> {
    const { leaseId, order } = req
    const refuse = (code: LeaseRefusal, message: string): never => {
      this.c.metrics.leasesRefused.inc({ reason: code })
      throw new LeaseRefusedError(code, message)
    }
    let signed = false
    try { signed = signatureVerify(leaseCreatePayload(leaseId, order, userPeer, this.c.peerId), req.signature, req.user).isValid } catch {}
    if (!signed) refuse('BAD_SIGNATURE', 'the request is not signed by the paying wallet for this peer')
    if (this.c.store.get(leaseId) != null) refuse('DUPLICATE', `lease ${leaseId} exists already`)
    const fit = this.fits(order)
    if (!fit.ok) refuse(fit.code, fit.reason)

    // No payment, no container: the escrow must exist on the ledger, for us, and cover the order.
    let escrow
    try { escrow = await this.c.ledger.escrow(leaseId) } catch (err) { refuse('LEDGER_UNAVAILABLE', `cannot check the escrow: ${(err as Error).message}`) }
    if (escrow == null) refuse('NO_ESCROW', `no escrow on the ledger for lease ${leaseId}`)
    else {
      if (escrow.user !== req.user || escrow.provider !== this.c.wallet.address) refuse('ESCROW_MISMATCH', 'the escrow is not from this user to this provider')
      if (escrow.status !== 'funded') refuse('ESCROW_MISMATCH', `the escrow is ${escrow.status}`)
      if (escrow.maxSeconds < order.seconds) refuse('ESCROW_TOO_SHORT', `the escrow covers ${escrow.maxSeconds} s, the order asks ${order.seconds} s`)
      const price = this.price(order)
      if (escrow.pricePerHour < price) refuse('PRICE_TOO_LOW', `the escrow pays ${escrow.pricePerHour}/h, this order costs ${price}/h`)
    }

    const lease: LeaseRecord = { leaseId, user: req.user, userPeer, holders: [...new Set(req.holders ?? [])].filter(h => h !== userPeer), order, status: 'accepted', createdAt: this.now(), ports: {} }
    await this.c.store.put(lease)
    emit({ event: 'accepted', leaseId })
    await this.deploy(lease, emit)
  }

  private async deploy (lease: LeaseRecord, emit: Emit): Promise<void> {
    const { leaseId, order } = lease
    const runtime = this.c.runtime as ContainerRuntime
    const abort = new AbortController()
    this.deploys.set(leaseId, abort)
    await this.c.store.update(leaseId, { status: 'deploying' })
    emit({ event: 'deploying', leaseId, message: DEPLOYING_MESSAGE })
    const spec: ContainerSpec = {
      leaseId,
      image: order.image,
      cmd: order.cmd,
      env: order.env,
      cpus: order.cpus,
      memoryBytes: order.memoryBytes,
      gpus: order.gpus > 0 ? { count: order.gpus, model: order.gpuModel } : undefined,
      ports: order.ports
    }
    try {
      const container = await runtime.deploy(spec, ev => {
        if (ev.kind === 'pulling') emit({ event: 'pulling', leaseId, status: ev.status, currentBytes: ev.currentBytes, totalBytes: ev.totalBytes })
      }, { signal: abort.signal })
      if (container.state !== 'running') throw new ContainerDeployError('START_FAILED', spec, `the container exited at once (code ${container.exit?.exitCode ?? '?'})`)
      const deployedAt = this.now()
      const expiresAt = deployedAt + order.seconds * 1000
      const ports = Object.fromEntries(container.ports.map(p => [String(p.containerPort), p.hostPort]))
      const token = await issueLeaseToken(this.c.privateKey, { leaseId, provider: this.c.peerId, holders: [lease.userPeer, ...(lease.holders ?? [])], ports: order.ports, issuedAt: deployedAt, expiresAt })
      const running = await this.c.store.update(leaseId, { status: 'running', deployedAt, expiresAt, ports, token })
      // Paid time starts now, on the ledger's clock.
      await this.c.outbox.enqueue(`start/${leaseId}`, { kind: 'startLease', leaseId })
      this.c.metrics.leasesStarted.inc()
      this.watch(running)
      this.scheduleExpiry(running)
      this.c.onRunning?.(running)
      emit({ event: 'deployed', leaseId, message: DEPLOYED_MESSAGE, ports: order.ports, token, expiresAt })
      this.c.logger.info({ leaseId, image: order.image, ports }, 'lease deployed')
    } catch (err) {
      const code = err instanceof ContainerDeployError ? err.code : 'ENGINE_ERROR'
      const reason = err instanceof ContainerDeployError ? err.type.reason : (err as Error).message
      if (this.c.store.get(leaseId)?.status === 'stopped') return // cancelled while deploying
      await runtime.stop(leaseId).catch(() => false)
      await this.end(leaseId, 'failed', reason, 'failed', code)
      emit({ event: 'failed', leaseId, code, reason })
    } finally {
      this.deploys.delete(leaseId)
    }
  }

  /**
   * What checkers see of these leases (Proof of Physical Work, acting as a user): each running
   * lease with published ports gets a token for `holders` (the epoch's assigned checkers),
   * valid until `expiresAt` at most, so they can open a tunnel to the container as its user
   * would. Ended leases say when they ended (their escrow may still be closing on the ledger).
   */
  async checkerAccess (leaseIds: readonly string[], holders: string[], expiresAt: number): Promise<CheckerLeaseView[]> {
    const out: CheckerLeaseView[] = []
    for (const leaseId of leaseIds) {
      const lease = this.c.store.get(leaseId)
      if (lease == null) { out.push({ leaseId, status: 'unknown', ports: [] }); continue }
      const view: CheckerLeaseView = { leaseId, status: lease.status, ports: lease.order.ports, endedAt: lease.endedAt }
      if (lease.status === 'running' && lease.order.ports.length > 0 && holders.length > 0) {
        view.token = await issueLeaseToken(this.c.privateKey, {
          leaseId, provider: this.c.peerId, holders: holders.slice(0, 16), ports: lease.order.ports, issuedAt: this.now(), expiresAt: Math.min(expiresAt, lease.expiresAt ?? expiresAt)
        })
      }
      out.push(view)
    }
    return out
  }

  /** Cancels a lease for its user. */
  async cancel (leaseId: string, requester: string): Promise<LeaseRecord> {
    const lease = this.c.store.get(leaseId)
    if (lease == null) throw new LeaseRefusedError('UNKNOWN_LEASE', `no lease ${leaseId}`)
    if (lease.userPeer !== requester) throw new LeaseRefusedError('NOT_ALLOWED', 'only the lease\'s user may cancel it')
    if (lease.status === 'failed' || lease.status === 'stopped') return lease
    this.deploys.get(leaseId)?.abort()
    await this.removeContainer(leaseId)
    return await this.end(leaseId, 'stopped', 'cancelled by the user', 'cancelled')
  }

  /**
   * Stops and removes the lease's container on purpose. The watcher goes first: otherwise it
   * would see the container stop and report the lease failed.
   */
  private async removeContainer (leaseId: string): Promise<boolean> {
    this.watching.get(leaseId)?.abort()
    this.watching.delete(leaseId)
    return await this.c.runtime?.stop(leaseId) ?? false
  }

  /** Marks the lease ended and settles its escrow through the outbox (once per lease). */
  private async end (leaseId: string, status: 'failed' | 'stopped', reason: string, closeReason: 'cancelled' | 'expired' | 'failed', failureCode?: string): Promise<LeaseRecord> {
    clearTimeout(this.expiryTimers.get(leaseId))
    this.expiryTimers.delete(leaseId)
    this.watching.get(leaseId)?.abort()
    this.watching.delete(leaseId)
    const lease = await this.c.store.update(leaseId, { status, reason, failureCode, endedAt: this.now() })
    await this.c.outbox.enqueue(`close/${leaseId}`, { kind: 'closeLease', leaseId, reason: closeReason })
    this.c.metrics.leasesEnded.inc({ reason: closeReason })
    this.c.onEnded?.(lease)
    this.c.logger.info({ leaseId, status, reason }, 'lease ended')
    return lease
  }

  private scheduleExpiry (lease: LeaseRecord): void {
    const ms = Math.max(0, (lease.expiresAt ?? 0) - this.now())
    // setTimeout holds at most 2^31-1 ms (≈ 24.8 days): re-arm until the lease is due.
    const timer = setTimeout(() => {
      if ((lease.expiresAt ?? 0) > this.now()) { this.scheduleExpiry(lease); return }
      void (async () => {
        await this.removeContainer(lease.leaseId).catch(() => false)
        await this.end(lease.leaseId, 'stopped', 'the lease expired', 'expired')
      })().catch(err => { this.c.logger.error({ err, leaseId: lease.leaseId }, 'lease expiry failed') })
    }, Math.min(ms, 2 ** 31 - 1))
    timer.unref()
    this.expiryTimers.set(lease.leaseId, timer)
  }

  /** Learns when the lease's container dies on its own: the lease fails (the user is not billed beyond it). */
  private watch (lease: LeaseRecord): void {
    const runtime = this.c.runtime
    if (runtime == null) return
    const abort = new AbortController()
    this.watching.set(lease.leaseId, abort)
    runtime.wait(lease.leaseId, { signal: abort.signal }).then(async exit => {
      if (abort.signal.aborted || this.c.store.get(lease.leaseId)?.status !== 'running') return
      await runtime.stop(lease.leaseId).catch(() => false)
      await this.end(lease.leaseId, 'failed', `the container stopped (exit code ${exit.exitCode}${exit.oomKilled ? ', out of memory' : ''})`, 'failed', 'CONTAINER_DIED')
    }).catch(err => {
      if (!abort.signal.aborted && this.running) this.c.logger.warn({ err: (err as Error).message, leaseId: lease.leaseId }, 'lost track of a lease container')
    })
  }

  /** After a restart: re-attach running containers, fail leases whose container died, remove orphans. */
  private async reattach (): Promise<void> {
    const runtime = this.c.runtime
    const active = this.c.store.active()
    if (runtime == null) {
      for (const lease of active) await this.end(lease.leaseId, 'failed', 'the provider restarted without a container engine', 'failed', 'NO_RUNTIME')
      return
    }
    const containers = new Map((await runtime.list()).map(c => [c.leaseId, c]))
    for (const lease of active) {
      const container = containers.get(lease.leaseId)
      if (container?.state === 'running' && lease.status === 'running') {
        this.watch(lease)
        this.scheduleExpiry(lease)
        this.c.onRunning?.(lease)
        this.c.logger.info({ leaseId: lease.leaseId }, 'lease re-attached to its running container')
      } else {
        await runtime.stop(lease.leaseId).catch(() => false)
        const why = container == null ? 'the container was gone after the provider restarted' : `the container died while the provider was down (exit code ${container.exit?.exitCode ?? '?'})`
        await this.end(lease.leaseId, 'failed', why, 'failed', 'CONTAINER_DIED')
      }
    }
    // Containers of this provider with no active lease hold resources nobody pays for.
    for (const [leaseId] of containers) {
      if (this.c.store.get(leaseId)?.status !== 'running') {
        await runtime.stop(leaseId).catch(() => false)
        this.c.logger.warn({ leaseId }, 'removed a container of no active lease')
      }
    }
  }
}
