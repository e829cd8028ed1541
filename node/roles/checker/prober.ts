// One checker's probes of one provider in one epoch (DESIGN §1.2), each bounded in time:
//  1. liveness and round-trip time (ping; dialing it if need be);
//  2. its signed record (over the challenge protocol, verified as the DHT's validator would): the claims;
//  3. the seeded challenge, sized by the claimed class, against its deadline, then spot-checked;
//     an answer equal to an earlier one is a replay;
//  4. bandwidth: a timed transfer, compared with what its benchmark claims;
//  5. acting as a user: for each lease the ledger says runs there, a tunnel to the container's
//     port with the token the lease grants this epoch's checkers.
// The result is pass when nothing failed; the reasons say what did.
import { randomBytes, randomInt } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { fromHex } from '../../../chain/merkle.js'
import { openRecord, recordKey } from '../../../protocols/records/codec.js'
import { ProviderRecord } from '../../../protocols/records/provider-record.js'
import { PROTOCOLS, RECORD_NAMESPACES } from '../../../protocols/ids.js'
import { NONCE_BYTES, checkOpenedRows, claimedCompute, pickRows, planChallenge } from '../../../protocols/popw/challenge.js'
import { leasesReplySchema, pongSchema, recordReplySchema, rootReplySchema, rowsReplySchema } from '../../../protocols/popw/messages.js'
import { tunnelReplySchema } from '../../../protocols/lease/messages.js'
import { decodeBenchmark, decodeInventory, type BenchmarkResult, type HardwareInventory } from '../../hardware/schema.js'
import { delayUnlessAborted, raceSignal } from '../../abort.js'
import { measureTransfer } from '../../network/bandwidth.js'
import { isIdle } from '../../network/connection-trimmer.js'
import { JsonFrames } from '../../network/json-frames.js'
import { processLoopLag, type LoopLag } from '../../runtime/loop-lag.js'
import type { Ledger } from '../../../chain/ledger.js'
import type { Member } from '../../../protocols/popw/assignment.js'
import type { Result } from '../../../protocols/popw/verdict.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { SignedRecordStore } from '../../network/records/store.js'
import type { EpochContext } from '../../popw/registry.js'
import type { PopwMetrics } from '../../popw/metrics.js'
import type { PeerId } from '@libp2p/interface'

export interface ProbeReport {
  result: Result
  /**
   * The epoch's probe window closed before this checker could finish, with nothing failed so
   * far: it does not know, so it says nothing (no commitment; a backup counts instead) rather
   * than accuse the provider of its own lack of time.
   */
  abstain?: boolean
  /** Set when the report became an abstention because this checker's own loop stalled (the stall, ms): see `lagVerdict`. */
  checkerLagMs?: number
  reasons: string[]
  /** What each failed try threw, `step (ms): message`, for this checker's log (not signed). */
  errors: string[]
  rttMs: number
  bandwidthMbps: number
  challengeN: number
  challengeMs: number
  deadlineMs: number
  claimedClass: string
  leasesChecked: number
  leasesOk: number
}

export interface ProberComponents {
  libp2p: KaisarLibp2p
  ledger: Ledger
  records: SignedRecordStore
  metrics: PopwMetrics
  /** Where a provider's last heartbeat said it listens (the checker's live provider table). */
  heartbeatAddresses?: (peer: PeerId) => Multiaddr[]
  loopLag?: LoopLag
}

export interface ProberInit {
  /** Work of one challenge at the claimed class's speed, ms. */
  challengeMs: number
  /** Size of the bandwidth probe (0: none). */
  bandwidthBytes: number
  /** Fixed part of a challenge's deadline. */
  challengeAllowanceMs: number
}

/** Measured below a tenth of the benchmark's claim (from anywhere on the internet, a lie rather than a slow path). */
const BANDWIDTH_TOLERANCE = 10
const MAX_LEASES_PROBED = 8
/** Roots a provider gave this checker lately, to call a repeated answer what it is. */
const ROOTS_REMEMBERED = 64

interface Claims { inventory: HardwareInventory, benchmark?: BenchmarkResult, wallet: string }

/** A try of a step, performance.now() times: the checker's stalls are read over it when its failure stands. */
interface TrySpan { start: number, end?: number }

/**
 * The probe window a probe runs in: its signal (aborted when it closes), when it ends (ms, the
 * epoch clock), and what a step's second try restarts (after a pause, the failure that stands is
 * the second try's, so its span is the one the checker's stalls are read over).
 */
interface ProbeWindow { signal: AbortSignal, end: number, retrying: () => void }

/**
 * A step's first try failed with the window open, and the window closed on its second (or in
 * the pause before it): the first failure stands, and so does the first try's span.
 */
class RetryCutShort extends Error {
  constructor (probe: string, readonly first: unknown, readonly firstTry: TrySpan) {
    super(`${probe}: failed, and the probe window closed on the second try`)
  }
}

/** The longest pause before a step's second try (see retryPauseMs). */
export const RETRY_PAUSE_MS = 10_000

/**
 * How long a failed step waits before its second try, with `leftMs` of the probe window left: a
 * pause rather than at once, so that an outage of a few seconds passes (a provider's GC pause or
 * a route flap; in the 1,000-node simulator a process stalled 7–11 s by its hundreds of nodes,
 * and both pings fell inside the stall, sim/README.md stop 32), while a provider that is down
 * fails again. A quarter of what is left, at most RETRY_PAUSE_MS, so the second try keeps room to
 * run before the window closes; in the default 60 s epoch (a 30 s probe window) at most 7.5 s.
 */
export function retryPauseMs (leftMs: number): number {
  if (!(leftMs > 0)) return 0
  return Math.round(Math.min(RETRY_PAUSE_MS, leftMs / 4))
}

/** Challenge failures that a second try may not repeat: congestion, not a wrong or refused answer. */
const RETRIED_CHALLENGE_REASONS: ReadonlySet<string> = new Set(['challenge-deadline', 'challenge-unreachable', 'challenge-failed'])

/** Epochs a provider's fetched record is used before it is fetched again. */
const RECORD_REFRESH_EPOCHS = 5

/**
 * Failures that are measurements against this checker's clock (a timeout, a deadline, a rate).
 * A checker whose event loop stalls can record any of them for a provider that answered in time.
 * The others (a replayed answer, a wrong row, a wallet that does not match, a refusal) are facts
 * about what the provider sent, whatever the checker's clock did.
 */
export const TIMED_REASONS: ReadonlySet<string> = new Set([
  'unreachable', 'no-record', 'challenge-unreachable', 'challenge-deadline', 'challenge-too-slow',
  'challenge-failed', 'bandwidth-failed', 'bandwidth-below-claim', 'leases-unanswered', 'lease-unreachable'
])

/**
 * A timed failure is the checker's own when one stall of its event loop during the failed step
 * lasted at least this long and at least half of the step's time: a reply that came in time then
 * waited in the checker's queue past the bound. A healthy node's loop stalls for tens of ms, a
 * busy one turns every few tens of ms (which delays each read by that much, not by a deadline);
 * a step that ran into a 5 s timeout with a 300 ms stall somewhere is still the provider's.
 * A provider cannot buy an abstention: it would have to stall the checker's process (its frames
 * are bounded at 64 KiB); and an abstention hands the provider to a backup checker, or leaves
 * it without an outcome for the epoch when every checker abstains.
 */
export const LAG_ABSTAIN_MS = 250

/** Whether a failed step that took `elapsedMs`, with a longest stall of the checker's loop of `stallMs`, is excused. */
export function stallExcuses (stallMs: number, elapsedMs: number): boolean {
  return stallMs >= LAG_ABSTAIN_MS && stallMs >= elapsedMs / 2
}

/**
 * The report a checker signs, given the failures its own stalls excuse (`excused`: timed reasons
 * whose step `stallExcuses`, with the stalled ms). A failing report whose every reason
 * is excused becomes an abstention (no commitment; a backup counts instead), as when the probe
 * window closes. One reason that is not excused keeps it a failure.
 */
export function lagVerdict (report: ProbeReport, excused: ReadonlyMap<string, number>): ProbeReport {
  if (report.abstain === true || report.reasons.length === 0 || !report.reasons.every(r => excused.has(r))) return report
  return { ...report, abstain: true, checkerLagMs: Math.round(Math.max(...excused.values())) }
}

export class Prober {
  private readonly roots = new Map<string, string[]>()
  private readonly claimCache = new Map<string, { epoch: number, claims: Claims }>()

  private readonly lag: LoopLag

  constructor (private readonly c: ProberComponents, private readonly init: ProberInit) {
    this.lag = c.loopLag ?? processLoopLag()
  }

  async probe (provider: Member, ctx: EpochContext, signal: AbortSignal): Promise<ProbeReport> {
    const excused = new Map<string, number>()
    const peer = peerIdFromString(provider.peerId)
    const metBefore = this.c.libp2p.getConnections(peer).length > 0
    try {
      const report = lagVerdict(await this.run(provider, peer, ctx, signal, excused), excused)
      if (report.checkerLagMs != null) this.c.metrics.laggedProbes.inc()
      return report
    } finally {
      if (!metBefore) await this.hangUp(peer)
    }
  }

  /**
   * Closes the connection a probe opened, once only ambient streams are left on it. A checker
   * probes a few dozen providers an epoch, a different few each time; kept, those connections
   * pile up to the trimmer's high water mark (Yamux keeps them alive) and in the simulator each is
   * a descriptor in two processes (a 1,000-node run died of EMFILE, sim/README.md stop 29). A
   * connection that was there before the probe, or to a peer anything tags (gossipsub's mesh,
   * kad-dht's closest, keep-alive), is someone else's and stays.
   */
  private async hangUp (peer: PeerId): Promise<void> {
    const connections = this.c.libp2p.getConnections(peer)
    if (connections.length === 0) return
    try {
      if ((await this.c.libp2p.peerStore.get(peer)).tags.size > 0) return
    } catch {} // not in the peer store: nothing values it
    await Promise.all(connections.filter(isIdle).map(async conn => {
      try {
        await conn.close({ signal: AbortSignal.timeout(1_000) })
      } catch (err) {
        conn.abort(err as Error)
      }
    }))
  }

  private async run (provider: Member, peer: PeerId, ctx: EpochContext, signal: AbortSignal, excused: Map<string, number>): Promise<ProbeReport> {
    const report: ProbeReport = { result: 'fail', reasons: [], errors: [], rttMs: 0, bandwidthMbps: 0, challengeN: 0, challengeMs: 0, deadlineMs: 0, claimedClass: '', leasesChecked: 0, leasesOk: 0 }
    // Each step is timed, and the loop's stalls are read over the try whose failure stands: a
    // step's second try, after its pause; its first when the window cut the second short (in
    // the 1,000-node simulator a checker's first ping took 11 s of a 5 s timeout, its loop
    // stalled, and the second, healthy, was cut short: read over the second, the stall went
    // unseen and the checker signed a failure, sim/README.md stop 35). A stall in an earlier
    // step that passed excuses nothing.
    let span: TrySpan = { start: performance.now() }
    const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      span = { start: performance.now() }
      return await this.timed(name, fn)
    }
    // The first try's failure stands: its span is the one read.
    const standing = (err: unknown): void => { if (err instanceof RetryCutShort) span = err.firstTry }
    const note = (...reasons: string[]): void => {
      const stalled = this.lag.longestStallSince(span.start, span.end)
      const excuse = stallExcuses(stalled, (span.end ?? performance.now()) - span.start)
      for (const r of reasons) {
        report.reasons.push(r)
        if (excuse && TIMED_REASONS.has(r)) excused.set(r, Math.max(stalled, excused.get(r) ?? 0))
      }
    }
    // A step that ended because the window closed is this checker's limit, not the provider's
    // failing; unless its first try had already failed while the window was open (`twice`).
    const outOfTime = (err?: unknown): boolean => signal.aborted && report.reasons.length === 0 && !(err instanceof RetryCutShort)
    // The window closed between steps: a failure found so far stands, and the steps not taken
    // add none (their reasons would be the window's); with none found, the checker does not know.
    const cutShort = (): ProbeReport => report.reasons.length === 0 ? { ...report, abstain: true } : report
    const fail = (reason: string, err?: unknown): ProbeReport => {
      if (outOfTime(err)) return { ...report, abstain: true }
      standing(err)
      note(reason)
      return report
    }
    const window: ProbeWindow = { signal, end: ctx.times.probeEnd, retrying: () => { span = { start: performance.now() } } }

    // 1. Liveness and RTT.
    try {
      report.rttMs = Math.round(await step('ping', async () => await this.twice('ping', window, report.errors, async () => await this.ping(peer, AbortSignal.any([signal, AbortSignal.timeout(5_000)])))))
    } catch (err) {
      return fail('unreachable', err)
    }

    // 2. What it claims.
    let claims: Claims
    try {
      claims = await step('record', async () => await this.twice('record', window, report.errors, async () => await this.claims(peer, ctx.epoch, signal)))
    } catch (err) {
      return fail('no-record', err)
    }
    if (claims.wallet !== provider.address) note('wallet-mismatch')

    // 3. The seeded challenge, sized by the claim.
    const claim = claimedCompute(claims.inventory, claims.benchmark)
    const plan = planChallenge(claim, this.init.challengeMs, report.rttMs, this.init.challengeAllowanceMs)
    Object.assign(report, { claimedClass: claim.id, challengeN: plan.n, deadlineMs: plan.deadlineMs })
    let challenge = await step('challenge', async () => await this.challenge(peer, provider, plan.n, plan.deadlineMs, signal, report.errors))
    const firstTry: TrySpan = { start: span.start, end: performance.now() }
    // A missed deadline, or a stream that failed, gets one more try with a fresh nonce, after the
    // same pause as the other steps, when the window still has room for it: a moment's congestion
    // should not fail an honest provider (nor give its checker a minority verdict), while a
    // provider that is slow, or claims more than it has, misses both.
    // A retry the window cuts short, in its pause or while it runs, leaves the miss standing, and
    // with it the first try's span.
    if (challenge.reason != null && RETRIED_CHALLENGE_REASONS.has(challenge.reason)) {
      if (await this.paused(window)) {
        this.c.metrics.probeRetries.inc({ probe: 'challenge' })
        const again = await step('challenge', async () => await this.challenge(peer, provider, plan.n, plan.deadlineMs, signal, report.errors))
        if (again.reason !== 'probe-window') challenge = again
        else span = firstTry
      } else {
        span = firstTry
      }
    }
    report.challengeMs = Math.round(challenge.ms)
    if (challenge.reason === 'probe-window') return fail('probe-window')
    if (challenge.reason != null) note(challenge.reason)
    if (signal.aborted) return cutShort()

    // 4. Bandwidth against the claimed benchmark.
    if (this.init.bandwidthBytes > 0) {
      try {
        const sample = await step('bandwidth', async () => await this.twice('bandwidth', window, report.errors, async () => await measureTransfer(this.c.libp2p, peer, this.init.bandwidthBytes, AbortSignal.any([signal, AbortSignal.timeout(10_000)]))))
        report.bandwidthMbps = Math.round(sample.bytes * 8 / 1e6 / (sample.elapsedMs / 1000))
        const claimed = claims.benchmark?.network
        if (claimed?.status === 'ok' && report.bandwidthMbps * BANDWIDTH_TOLERANCE < claimed.throughputMBps * 8) note('bandwidth-below-claim')
      } catch (err) {
        if (outOfTime(err)) return { ...report, abstain: true }
        standing(err)
        note('bandwidth-failed')
      }
    }

    // 5. Its running leases, as their user.
    if (signal.aborted) return cutShort()
    try {
      const leases = await step('leases', async () => await this.twice('leases', window, report.errors, async () => await this.leases(peer, provider, ctx, window, report.errors)))
      report.leasesChecked = leases.checked
      report.leasesOk = leases.ok
      if (leases.standing != null) span = leases.standing
      note(...leases.reasons)
    } catch (err) {
      if (outOfTime(err)) return { ...report, abstain: true }
      standing(err)
      note('leases-unanswered')
    }

    report.result = report.reasons.length === 0 ? 'pass' : 'fail'
    return report
  }

  /**
   * A step that threw is tried once more, after a pause (retryPauseMs), with a fresh stream (and
   * dial, if the connection went), while the window is open: one lost exchange under congestion,
   * or a moment's outage, is not a provider's failing, and a provider that is down, or refuses,
   * fails the second time too. A second try that the window cuts short, in its pause or while it
   * runs, leaves the first failure standing (RetryCutShort), as before there was a retry.
   */
  private async twice<T> (probe: string, window: ProbeWindow, errors: string[], fn: () => Promise<T>): Promise<T> {
    const attempt = async (tried: TrySpan): Promise<T> => {
      try {
        return await fn()
      } catch (err) {
        tried.end = performance.now()
        errors.push(`${probe} (${Math.round(tried.end - tried.start)} ms): ${(err as Error).message}`)
        throw err
      }
    }
    const firstTry: TrySpan = { start: performance.now() }
    try {
      return await attempt(firstTry)
    } catch (first) {
      if (window.signal.aborted) throw first
      if (!await this.paused(window)) throw new RetryCutShort(probe, first, firstTry)
      this.c.metrics.probeRetries.inc({ probe })
      window.retrying()
      try {
        return await attempt({ start: performance.now() })
      } catch (second) {
        throw window.signal.aborted ? new RetryCutShort(probe, first, firstTry) : second
      }
    }
  }

  /** Waits out retryPauseMs before a second try; false when the window closed meanwhile. */
  private async paused (window: ProbeWindow): Promise<boolean> {
    return await delayUnlessAborted(retryPauseMs(window.end - Date.now()), window.signal)
  }

  private async timed<T> (probe: string, fn: () => Promise<T>): Promise<T> {
    const end = this.c.metrics.probeSeconds.startTimer({ probe })
    try { return await fn() } finally { end() }
  }

  /** Dials if need be, then times one round trip on the open stream (the dial and protocol negotiation excluded). */
  private async ping (peer: PeerId, signal: AbortSignal): Promise<number> {
    const frames = await this.open(peer, signal)
    try {
      const t0 = performance.now()
      await frames.write({ op: 'ping' }, { signal })
      const pong = await frames.read(pongSchema, { signal })
      if (!pong.ok) throw new Error(pong.message)
      return performance.now() - t0
    } finally {
      await frames.stream.close().catch(() => {})
    }
  }

  /**
   * A stream to the provider. Not connected to it, the checker dials the addresses its last
   * heartbeat gave: dialled by id alone, libp2p first walks the DHT for the peer (findPeer), and
   * a provider in DHT client mode is then found only through its signed record, a second walk.
   * Both inside the probe's time bound, and at a few hundred nodes each walk takes seconds (the
   * 300-node simulator: 363 of 551 failing reasons were `unreachable` before this). The walks
   * remain the way when no heartbeat was heard or its addresses do not answer.
   */
  private async open (peer: PeerId, signal: AbortSignal): Promise<JsonFrames> {
    const open = async (target: PeerId | Multiaddr[]): Promise<JsonFrames> => new JsonFrames(await this.c.libp2p.dialProtocol(target, PROTOCOLS.challenge, { signal }), 64 * 1024)
    if (this.c.libp2p.getConnections(peer).length > 0) return await open(peer)
    const heard = this.c.heartbeatAddresses?.(peer) ?? []
    if (heard.length > 0) {
      this.c.metrics.providerDials.inc({ via: 'heartbeat' })
      try { return await open(heard) } catch (err) { if (signal.aborted) throw err }
    }
    this.c.metrics.providerDials.inc({ via: 'libp2p' })
    try {
      return await open(peer)
    } catch (err) {
      if (signal.aborted || this.c.libp2p.getConnections(peer).length > 0) throw err
      const found = await this.c.records.fetch(RECORD_NAMESPACES.provider, peer, signal)
      if (found == null) throw err
      const addresses = ProviderRecord.decode(found.payload).addresses.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
      await this.c.libp2p.peerStore.merge(peer, { multiaddrs: addresses })
      this.c.metrics.providerDials.inc({ via: 'record' })
      return await open(peer)
    }
  }

  /** The provider's claims, from its signed record; fetched again every few epochs (records change rarely). */
  private async claims (peer: PeerId, epoch: number, signal: AbortSignal): Promise<Claims> {
    const cached = this.claimCache.get(peer.toString())
    if (cached != null && epoch - cached.epoch < RECORD_REFRESH_EPOCHS) return cached.claims
    const claims = await this.record(peer, signal)
    this.claimCache.set(peer.toString(), { epoch, claims })
    return claims
  }

  private async record (peer: PeerId, signal: AbortSignal): Promise<Claims> {
    const s = AbortSignal.any([signal, AbortSignal.timeout(5_000)])
    const frames = await this.open(peer, s)
    await frames.write({ op: 'record' }, { signal: s })
    const reply = await frames.read(recordReplySchema, { signal: s })
    await frames.stream.close().catch(() => {})
    if (!reply.ok) throw new Error(reply.message)
    // The same check the DHT's validator makes: signed by the peer the key names.
    const opened = await openRecord(recordKey(RECORD_NAMESPACES.provider, peer), Buffer.from(reply.record, 'base64'))
    if (!opened.ok) throw new Error(`record: ${opened.reason}`)
    const record = ProviderRecord.decode(opened.record.payload)
    return { inventory: decodeInventory(record.inventoryJson), benchmark: record.benchmarkJson !== '' ? decodeBenchmark(record.benchmarkJson) : undefined, wallet: record.wallet }
  }

  private async challenge (peer: PeerId, provider: Member, n: number, deadlineMs: number, signal: AbortSignal, errors: string[]): Promise<{ ms: number, reason?: string }> {
    const nonce = new Uint8Array(randomBytes(NONCE_BYTES))
    let frames: JsonFrames
    const opening = performance.now()
    try {
      frames = await this.open(peer, AbortSignal.any([signal, AbortSignal.timeout(5_000)]))
    } catch (err) {
      errors.push(`challenge (opening, ${Math.round(performance.now() - opening)} ms): ${(err as Error).message}`)
      return { ms: 0, reason: signal.aborted ? 'probe-window' : 'challenge-unreachable' }
    }
    const t0 = performance.now()
    try {
      await frames.write({ op: 'challenge', nonce: `0x${Buffer.from(nonce).toString('hex')}`, n, deadlineMs })
      let root
      try {
        root = await frames.read(rootReplySchema, { signal: AbortSignal.any([signal, AbortSignal.timeout(deadlineMs)]) })
      } catch {
        // The epoch's probe window closing is this checker's limit, not the provider's deadline,
        // unless the deadline had already run out in full by then (under a lagging event loop
        // both timers can fire in the same turn, and the window's abort may win the race).
        const ms = performance.now() - t0
        return { ms, reason: signal.aborted && ms < deadlineMs ? 'probe-window' : 'challenge-deadline' }
      }
      const ms = performance.now() - t0
      // ABANDONED: the provider itself saw it could not make the deadline (no second try for that).
      if (!root.ok) return { ms, reason: root.code === 'ABANDONED' ? 'challenge-too-slow' : 'challenge-refused' }
      if (ms > deadlineMs) return { ms, reason: 'challenge-deadline' }
      const seen = this.roots.get(provider.peerId) ?? []
      const replayed = seen.includes(root.root)
      this.roots.set(provider.peerId, [...seen, root.root].slice(-ROOTS_REMEMBERED))
      const asked = pickRows(n, max => randomInt(max))
      const s = AbortSignal.any([signal, AbortSignal.timeout(10_000)])
      await frames.write({ op: 'open', rows: asked }, { signal: s })
      const rows = await frames.read(rowsReplySchema, { signal: s })
      if (!rows.ok) return { ms, reason: 'challenge-refused' }
      const check = checkOpenedRows(nonce, provider.key, n, fromHex(root.root), asked, rows.rows.map(r => ({ index: r.index, data: Buffer.from(r.data, 'base64'), proof: r.proof.map(fromHex) })))
      if (replayed) return { ms, reason: 'challenge-replayed' }
      return check.ok ? { ms } : { ms, reason: `challenge-${check.reason}` }
    } catch (err) {
      errors.push(`challenge (${Math.round(performance.now() - t0)} ms): ${(err as Error).message}`)
      // The window closing while the rows were asked for is this checker's limit too.
      return { ms: performance.now() - t0, reason: signal.aborted ? 'probe-window' : 'challenge-failed' }
    } finally {
      await frames.stream.close().catch(() => {})
    }
  }

  /**
   * The provider's view of its running leases, and for each one published, a tunnel to it as its
   * user (two tries, as every step: a moment's outage of the provider's process is not the
   * lease's failing). `standing`: the try of the first unreachable lease whose failure stands,
   * the span its checker's stalls are read over.
   */
  private async leases (peer: PeerId, provider: Member, ctx: EpochContext, window: ProbeWindow, errors: string[]): Promise<{ checked: number, ok: number, reasons: string[], standing?: TrySpan }> {
    const signal = window.signal
    const running = (await raceSignal(this.c.ledger.leasesOf(provider.address), signal)).filter(e => e.status === 'running').slice(0, MAX_LEASES_PROBED)
    if (running.length === 0) return { checked: 0, ok: 0, reasons: [] }
    const s = AbortSignal.any([signal, AbortSignal.timeout(5_000)])
    const frames = await this.open(peer, s)
    await frames.write({ op: 'leases', epoch: ctx.epoch, leaseIds: running.map(e => e.leaseId) }, { signal: s })
    const reply = await frames.read(leasesReplySchema, { signal: s })
    await frames.stream.close().catch(() => {})
    if (!reply.ok) return { checked: running.length, ok: 0, reasons: ['leases-refused'] }
    const reasons = new Set<string>()
    let ok = 0
    let standing: TrySpan | undefined
    for (const escrow of running) {
      // The window closed after a lease was found unreachable: that stands, and the leases not
      // reached add nothing (their failures would be the window's).
      if (signal.aborted && reasons.size > 0) break
      const view = reply.leases.find(l => l.leaseId === escrow.leaseId)
      if (view == null || view.status === 'unknown') { reasons.add('lease-unknown'); continue }
      if (view.status === 'running') {
        const token = view.token
        const port = view.ports[0]
        if (token == null || port == null) { ok++; continue } // nothing published to reach
        // The tunnel's own second try, not the step's: the span of the try that stands is kept here.
        const tried: TrySpan = { start: performance.now() }
        const tunnelWindow: ProbeWindow = { ...window, retrying: () => { tried.start = performance.now() } }
        try {
          await this.twice('tunnel', tunnelWindow, errors, async () => { await this.tunnel(peer, token, port, signal) })
          ok++
        } catch (err) {
          // The window closing on a first try is this checker's limit, not the provider's failing:
          // with nothing found so far the probe abstains. The tunnel is only tried after this
          // provider answered ping and leases in this same probe, so an offline provider has
          // already failed by then.
          if (signal.aborted && !(err instanceof RetryCutShort)) {
            if (reasons.size > 0) break
            throw err
          }
          standing ??= err instanceof RetryCutShort ? err.firstTry : { start: tried.start, end: performance.now() }
          reasons.add('lease-unreachable')
        }
      } else if (view.status === 'failed' || view.status === 'stopped') {
        // Ended here, still open on the ledger: fine while its close is on its way (two epochs).
        if (view.endedAt != null && view.endedAt >= ctx.times.start - 2 * (ctx.times.end - ctx.times.start)) ok++
        else reasons.add('lease-not-closed')
      } else {
        ok++ // accepted / deploying: the ledger started it a moment early
      }
    }
    return { checked: running.length, ok, reasons: [...reasons], ...(standing != null ? { standing } : {}) }
  }

  /** Opens a tunnel to the lease's port with the checkers' token, as the lease's user would; throws when it cannot. */
  private async tunnel (peer: PeerId, token: string, port: number, signal: AbortSignal): Promise<void> {
    const s = AbortSignal.any([signal, AbortSignal.timeout(5_000)])
    const stream = await this.c.libp2p.dialProtocol(peer, PROTOCOLS.tunnel, { signal: s })
    try {
      const frames = new JsonFrames(stream, 8192)
      await frames.write({ token, port }, { signal: s })
      const reply = await frames.read(tunnelReplySchema, { signal: s })
      // The provider answers ok only once the container's port accepted a connection.
      if (!reply.ok) throw new Error(`tunnel refused: ${reply.code}: ${reply.message}`)
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
    await stream.close().catch(() => { stream.abort(new Error('tunnel probe done')) })
  }
}
