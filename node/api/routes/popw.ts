// Routes about Proof of Physical Work, on checkers and gateways: settled outcomes with their
// inclusion proofs against the root on the ledger (what `kaisar-node outcomes` prints), the
// provider scores the scheduler uses, and where the epochs stand.
import { z } from 'zod'
import { toHex } from '../../../chain/merkle.js'
import { Outcome, outcomeJson, type OutcomeJson } from '../../../protocols/popw/outcome.js'
import { keyOf } from '../../../protocols/popw/verdict.js'
import { HttpError, type Router } from '../router.js'
import { parsePeerParam } from './node.js'
import type { KaisarNode } from '../../node.js'
import type { PopwService } from '../../popw/service.js'

const querySchema = z.object({
  provider: z.string().max(128).optional(),
  epoch: z.coerce.number().int().min(0).optional(),
  /** Settled epochs to look through (newest first) when no epoch is given. */
  epochs: z.coerce.number().int().min(1).max(1000).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional()
}).strict()

export interface OutcomeWithProof extends OutcomeJson {
  settlement: { root: string, height: number, submitter: string, how: 'matched' | 'fetched' }
  /** RFC 6962 inclusion proof of `leaf` (the outcome's protobuf bytes, base64) under `settlement.root`. */
  proof: { index: number, size: number, path: string[], leaf: string }
}

function popwOf (node: KaisarNode): PopwService {
  if (node.popw == null) throw new HttpError(404, 'this node does not follow Proof of Physical Work (ask a checker or gateway)')
  return node.popw
}

export function popwRoutes (r: Router, node: KaisarNode): void {
  r.get('/api/v1/outcomes', async ({ query }) => {
    const popw = popwOf(node)
    const parsed = querySchema.safeParse(Object.fromEntries(query))
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new HttpError(400, `${issue?.path.join('.') ?? 'query'}: ${issue?.message ?? 'invalid'}`)
    }
    const q = parsed.data
    const provider = q.provider != null ? Buffer.from(keyOf(parsePeerParam(q.provider))).toString('hex') : undefined
    const epochs = q.epoch != null ? [await popw.store.get(q.epoch)].filter(e => e != null) : await popw.store.recent(q.epochs ?? 20)
    const out: OutcomeWithProof[] = []
    for (const settled of epochs) {
      const tree = popw.store.tree(settled)
      settled.outcomes.forEach((o, index) => {
        if (provider != null && Buffer.from(o.provider).toString('hex') !== provider) return
        out.push({
          ...outcomeJson(o),
          settlement: { root: settled.root, height: settled.height, submitter: settled.submitter, how: settled.how },
          proof: { index, size: tree.size, path: tree.proof(index).map(toHex), leaf: Buffer.from(Outcome.encode(o)).toString('base64') }
        })
      })
    }
    return out.slice(0, q.limit ?? 1000)
  })

  r.get('/api/v1/scores', () => popwOf(node).scores.list())
  r.get('/api/v1/providers/:peer/score', ({ params }) => popwOf(node).scores.get(parsePeerParam(params.peer).toString()))

  r.get('/api/v1/popw', () => {
    const popw = popwOf(node)
    const epoch = popw.schedule.epochAt(Date.now())
    return {
      epoch,
      epochMs: popw.schedule.epochMs,
      k: popw.registry.params.k,
      backups: popw.registry.params.backups,
      settledEpoch: popw.settledEpoch,
      checker: node.checker == null ? undefined : { licensed: node.checker.registrar.isRegistered, duties: node.checker.duty.duties(epoch).map(m => m.peerId) }
    }
  })
}
