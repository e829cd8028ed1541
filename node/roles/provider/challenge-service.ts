// The provider's side of /kaisar/challenge/1.0.0 (DESIGN §1.2): answers licensed checkers'
// seeded challenges (commit to C's rows, then open the rows asked), hands out its signed
// record, and gives the epoch's assigned checkers tokens to its running leases so they can
// use them as a user would. Only licensed checkers are served, a few challenges at a time:
// a challenge costs n³ work, and anyone else asking is a way to make this provider busy.
import { PROTOCOLS } from '../../../protocols/ids.js'
import { solveChallenge, type OpenedRow } from '../../../protocols/popw/challenge.js'
import { challengeRequestSchema, openRequestSchema, type ChallengeRequest } from '../../../protocols/popw/messages.js'
import { keyOf } from '../../../protocols/popw/verdict.js'
import { toHex } from '../../../chain/merkle.js'
import { JsonFrames } from '../../network/json-frames.js'
import type { EpochRegistry } from '../../popw/registry.js'
import type { PopwMetrics } from '../../popw/metrics.js'
import type { Logger } from '../../log.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { LeaseManager } from './lease-manager.js'
import type { ProviderRecordPublisher } from './record-publisher.js'
import type { Connection, Startable, Stream } from '@libp2p/interface'

/** What the provider commits to and then opens. */
export interface ChallengeAnswer {
  root: Uint8Array
  open: (rows: readonly number[]) => OpenedRow[]
}

/**
 * Computes answers. Production uses `honestResponder`; the simulator injects others (slow,
 * replaying) through NodeEnvironment, which no config, flag or environment variable reaches.
 */
export interface ChallengeResponder {
  answer: (req: { nonce: Uint8Array, n: number, deadlineMs: number, provider: Uint8Array }, signal: AbortSignal) => Promise<ChallengeAnswer>
}

export const honestResponder: ChallengeResponder = {
  answer: async (req, signal) => {
    const solved = await solveChallenge(req.nonce, req.provider, req.n, signal, req.deadlineMs)
    return { root: solved.root, open: rows => rows.map(index => ({ index, data: solved.rows[index] as Uint8Array, proof: solved.tree.proof(index) })) }
  }
}

export interface ChallengeServiceComponents {
  libp2p: KaisarLibp2p
  registry: EpochRegistry
  leases: LeaseManager
  publisher: ProviderRecordPublisher
  logger: Logger
  metrics: PopwMetrics
  responder?: ChallengeResponder
  now?: () => number
}

/** Challenges computed at once; more wait (a checker's deadline allows for a little queueing). */
const MAX_CONCURRENT = 4

class Refusal extends Error {
  constructor (readonly code: string, message: string) { super(message) }
}

export class ChallengeService implements Startable {
  private readonly c: ChallengeServiceComponents
  private active = 0
  private readonly queue: Array<() => void> = []

  constructor (c: ChallengeServiceComponents) { this.c = c }

  private now (): number { return this.c.now?.() ?? Date.now() }

  async start (): Promise<void> {
    await this.c.libp2p.handle(PROTOCOLS.challenge, async (stream, connection) => { await this.serve(stream, connection) }, { maxInboundStreams: 64, maxOutboundStreams: 64 })
  }

  async stop (): Promise<void> {
    await this.c.libp2p.unhandle(PROTOCOLS.challenge)
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const frames = new JsonFrames(stream, 64 * 1024)
    let req: ChallengeRequest | undefined
    try {
      req = await frames.read(challengeRequestSchema, { signal: AbortSignal.timeout(10_000) })
      if (req.op === 'ping') { await frames.write({ ok: true }); await stream.close().catch(() => {}); return }
      const epoch = req.op === 'leases' ? req.epoch : this.c.registry.schedule.epochAt(this.now())
      const ctx = await this.c.registry.context(epoch)
      const requester = keyOf(connection.remotePeer)
      if (ctx.checker(requester) == null) throw new Refusal('NOT_A_CHECKER', 'only checkers licensed in this epoch are served')
      switch (req.op) {
        case 'record': {
          const sealed = await this.c.publisher.refresh()
          await frames.write({ ok: true, record: Buffer.from(sealed.value).toString('base64') })
          break
        }
        case 'leases': {
          const self = ctx.provider(keyOf(this.c.libp2p.peerId))
          if (self == null || Math.abs(epoch - this.c.registry.schedule.epochAt(this.now())) > 1) throw new Refusal('WRONG_EPOCH', `epoch ${epoch} is not now, or this provider is not checked in it`)
          if (!ctx.isCandidate(self, requester)) throw new Refusal('NOT_ASSIGNED', 'this checker is not assigned to this provider in this epoch')
          const holders = ctx.candidatesOf(self).map(m => m.peerId)
          const leases = await this.c.leases.checkerAccess(req.leaseIds, holders, ctx.times.revealClose)
          await frames.write({ ok: true, leases })
          break
        }
        case 'challenge':
          await this.challenge(frames, req)
          break
      }
    } catch (err) {
      const code = err instanceof Refusal ? err.code : 'FAILED'
      if (!(err instanceof Refusal)) this.c.logger.debug({ err: (err as Error).message, op: req?.op }, 'challenge request failed')
      await frames.write({ ok: false, code, message: (err as Error).message.slice(0, 400) }).catch(() => {})
    }
    await stream.close().catch(() => {})
  }

  private async challenge (frames: JsonFrames, req: Extract<ChallengeRequest, { op: 'challenge' }>): Promise<void> {
    // Past the deadline the answer is worth nothing: stop working.
    const signal = AbortSignal.timeout(req.deadlineMs)
    await this.slot(signal)
    let answer: ChallengeAnswer
    try {
      answer = await (this.c.responder ?? honestResponder).answer({ nonce: Buffer.from(req.nonce.slice(2), 'hex'), n: req.n, deadlineMs: req.deadlineMs, provider: keyOf(this.c.libp2p.peerId) }, signal)
    } catch (err) {
      this.c.metrics.challengesServed.inc({ result: 'abandoned' })
      throw new Refusal('ABANDONED', `challenge abandoned: ${(err as Error).message}`)
    } finally {
      this.release()
    }
    await frames.write({ ok: true, root: toHex(answer.root) })
    const open = await frames.read(openRequestSchema, { signal: AbortSignal.timeout(10_000) })
    if (open.rows.some(r => r >= req.n)) throw new Refusal('BAD_ROWS', `rows must be below n = ${req.n}`)
    const rows = answer.open(open.rows)
    await frames.write({ ok: true, rows: rows.map(r => ({ index: r.index, data: Buffer.from(r.data).toString('base64'), proof: r.proof.map(toHex) })) })
    this.c.metrics.challengesServed.inc({ result: 'answered' })
  }

  private async slot (signal: AbortSignal): Promise<void> {
    if (this.active < MAX_CONCURRENT) { this.active++; return }
    await new Promise<void>((resolve, reject) => {
      const go = (): void => { signal.removeEventListener('abort', onAbort); this.active++; resolve() }
      const onAbort = (): void => { const i = this.queue.indexOf(go); if (i >= 0) this.queue.splice(i, 1); reject(new Refusal('BUSY', 'too many challenges at once')) }
      signal.addEventListener('abort', onAbort, { once: true })
      this.queue.push(go)
    })
  }

  private release (): void {
    this.active--
    this.queue.shift()?.()
  }
}
