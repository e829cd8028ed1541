// `kaisar-node outcomes [--provider P] [--epoch E] [--json]`: settled Proof of Physical Work
// outcomes from a checker or gateway, each with its inclusion proof against the root settled on
// the ledger. The proof is checked here, and what is printed is decoded from the proven leaf
// itself, not taken from the node's word.
import { Command } from 'commander'
import { fromHex, verifyInclusion } from '../../../chain/merkle.js'
import { Outcome, outcomeJson } from '../../../protocols/popw/outcome.js'
import { getJson } from '../api-client.js'
import type { OutcomeWithProof } from '../../api/routes/popw.js'

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

const short = (id: string): string => id.length > 20 ? `${id.slice(0, 10)}…${id.slice(-6)}` : id

export function outcomesCommand (): Command {
  return new Command('outcomes')
    .description('settled Proof of Physical Work outcomes with their inclusion proofs (from a checker or gateway)')
    .option('--provider <peer>', 'only this provider')
    .option('--epoch <n>', 'only this epoch (default: the latest settled epochs)')
    .option('--epochs <n>', 'how many of the latest settled epochs to show (default 20)')
    .option('--api <url>', 'node API URL (default http://127.0.0.1:7001, or KAISAR_API_URL)')
    .option('--json', 'print JSON')
    .action(async (opts: { provider?: string, epoch?: string, epochs?: string, api?: string, json?: boolean }) => {
      const q = new URLSearchParams()
      if (opts.provider != null) q.set('provider', opts.provider)
      if (opts.epoch != null) q.set('epoch', opts.epoch)
      if (opts.epochs != null) q.set('epochs', opts.epochs)
      const list = (await getJson<OutcomeWithProof[]>(opts.api, `/api/v1/outcomes?${q.toString()}`)).map(checkOutcomeProof)
      if (list.some(o => !o.verified)) process.exitCode = 1
      if (opts.json === true) { process.stdout.write(JSON.stringify(list) + '\n'); return }
      if (list.length === 0) { process.stdout.write('no settled outcomes\n'); return }
      let epoch: number | undefined
      for (const o of list) {
        if (o.epoch !== epoch) {
          epoch = o.epoch
          process.stdout.write(`epoch ${o.epoch}  root ${short(o.settlement.root)}  height ${o.settlement.height}  settled by ${short(o.settlement.submitter)}\n`)
        }
        const agree = o.verdicts.filter(v => v.result === o.result).length
        const why = o.result === 'fail' ? `  (${[...new Set(o.verdicts.flatMap(v => v.reasons))].join(', ')})` : ''
        process.stdout.write(`  ${short(o.provider)}  ${o.result.toUpperCase().padEnd(4)}  ${agree}/${o.assigned.length} agree  ` +
          `${o.verified ? 'proof ok' : 'PROOF FAILED'} (leaf ${o.proof.index} of ${o.proof.size})${why}\n`)
      }
    })
}
