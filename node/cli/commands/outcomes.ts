// `kaisar-node outcomes [--provider P] [--epoch E] [--json]`: settled Proof of Physical Work
// outcomes from a checker or gateway, each with its inclusion proof against the root settled on
// the ledger. The proof is checked here, and what is printed is decoded from the proven leaf
// itself, not taken from the node's word.
import { Command } from 'commander'
import { getJson } from '../api-client.js'
import type { OutcomeWithProof } from '../../api/routes/popw.js'

export type { CheckedOutcome } from '../outcome-proof.js'

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
      // The proof checker is loaded here, not at the top (the other commands should not pay for
      // the protobuf codecs), while the request is under way.
      const [{ checkOutcomeProof }, outcomes] = await Promise.all([import('../outcome-proof.js'), getJson<OutcomeWithProof[]>(opts.api, `/api/v1/outcomes?${q.toString()}`)])
      const list = outcomes.map(checkOutcomeProof)
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
