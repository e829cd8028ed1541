// Checks one settled outcome's inclusion proof for `kaisar-node outcomes`: the leaf must hash up
// to the settled root along the proof, and decode to the very outcome the node reported.
import { fromHex, verifyInclusion } from '../../chain/merkle.js'
import { Outcome, outcomeJson } from '../../protocols/popw/outcome.js'
import type { OutcomeWithProof } from '../api/routes/popw.js'

export interface CheckedOutcome extends OutcomeWithProof {
  /** The leaf hashes up to the settled root along the proof, and decodes to the outcome shown. */
  verified: boolean
}

export function checkOutcomeProof (o: OutcomeWithProof): CheckedOutcome {
  let verified = false
  try {
    const leaf = Buffer.from(o.proof.leaf, 'base64')
    const decoded = outcomeJson(Outcome.decode(leaf))
    verified = verifyInclusion(leaf, o.proof.index, o.proof.size, o.proof.path.map(fromHex), fromHex(o.settlement.root)) &&
      JSON.stringify(decoded) === JSON.stringify({ epoch: o.epoch, provider: o.provider, result: o.result, assigned: o.assigned, verdicts: o.verdicts })
  } catch {}
  return { ...o, verified }
}
