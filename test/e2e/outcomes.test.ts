// Issue 6 as real processes: 1 gateway, 2 providers and 3 checkers on loopback with 3 s epochs.
// Epochs are settled on the gateway's ledger, and `kaisar-node outcomes` (through a node's API)
// prints each provider's passing outcome with an inclusion proof it checks against the settled
// root; --provider and --epoch filter; a node that follows no epochs says so.
import fs from 'node:fs/promises'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { simulatedInventory } from '../../sim/hardware.js'
import { killAll, loopbackArgs, runCli, startNode, type CliNode } from '../helpers/cli.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import { getJson, waitFor } from '../helpers/wait.js'
import type { CheckedOutcome } from '../../node/cli/commands/outcomes.js'

test.after(async () => { await killAll(); await removeTempDirs() })

const EPOCH_MS = 3000
const ENV = {
  KAISAR_POPW_EPOCH_MS: String(EPOCH_MS),
  KAISAR_POPW_CHALLENGE_MS: '20',
  KAISAR_POPW_CHALLENGE_ALLOWANCE_MS: '500',
  KAISAR_POPW_BANDWIDTH_BYTES: String(256 * 1024)
}

test('epochs settle; `outcomes` shows each provider passing with a checked inclusion proof', async () => {
  const gateway = await startNode(loopbackArgs('gateway', await tempDir()), { env: ENV })
  const boot = ['--bootstrap', gateway.ready.addresses[0] as string]
  const providers: CliNode[] = []
  for (let i = 0; i < 2; i++) {
    const dir = await tempDir()
    const file = path.join(dir, 'inventory.json')
    await fs.writeFile(file, JSON.stringify(simulatedInventory([])))
    providers.push(await startNode(loopbackArgs('provider', dir, [...boot, '--inventory-file', file, '--heartbeat-interval', '1000']), { env: ENV }))
  }
  const checkers = await Promise.all([0, 1, 2].map(async () => await startNode(loopbackArgs('checker', await tempDir(), boot), { env: ENV })))
  const api = gateway.ready.api

  // Two epochs with an outcome for both providers, settled, each counting all 3 checkers. An epoch
  // whose seed block came before every checker was licensed has k < 3, and with k = 1 one verdict
  // is a quorum (seen once under the full suite's load: a pass with one verdict).
  const settled = await waitFor('two settled epochs with both providers', async () => {
    const list = await getJson<CheckedOutcome[]>(`${api}/api/v1/outcomes`)
    const epochs = [...new Set(list.map(o => o.epoch))].filter(e => list.filter(o => o.epoch === e && o.result === 'pass' && o.assigned.length === 3).length === 2)
    return epochs.length >= 2 ? epochs : undefined
  }, 60_000, 500)

  const all = await runCli(['outcomes', '--api', api, '--json'])
  assert.is(all.code, 0, all.stderr)
  const outcomes = JSON.parse(all.stdout) as CheckedOutcome[]
  assert.ok(outcomes.length >= 4)
  for (const o of outcomes.filter(x => settled.includes(x.epoch))) {
    assert.ok(o.verified, `the proof of ${o.provider} in epoch ${o.epoch} checks out`)
    assert.is(o.result, 'pass')
    assert.ok(o.verdicts.filter(v => v.result === 'pass').length >= 2, `two passing verdicts at least: ${JSON.stringify(o)}`)
    assert.ok(providers.some(p => p.ready.peerId === o.provider))
  }

  const provider = (providers[0] as CliNode).ready.peerId
  const epoch = settled[0] as number
  const one = await runCli(['outcomes', '--api', api, '--provider', provider, '--epoch', String(epoch), '--json'])
  const filtered = JSON.parse(one.stdout) as CheckedOutcome[]
  assert.is(filtered.length, 1)
  assert.is(filtered[0]?.provider, provider)
  assert.is(filtered[0]?.epoch, epoch)

  // Text: one line per outcome, the proof checked; a checker's API answers the same.
  const text = await runCli(['outcomes', '--api', (checkers[0] as CliNode).ready.api, '--epoch', String(epoch)])
  assert.is(text.code, 0, text.stderr)
  assert.match(text.stdout, new RegExp(`epoch ${epoch}  root 0x`))
  assert.is(text.stdout.split('\n').filter(l => l.includes('PASS') && l.includes('proof ok')).length, 2, text.stdout)
  // Scores for the scheduler.
  const score = await getJson<{ score: number, schedulable: boolean, passes: number }>(`${api}/api/v1/providers/${provider}/score`)
  assert.ok(score.schedulable && score.passes >= 1 && score.score > 0.5, JSON.stringify(score))
  // A provider follows no epochs: a clear error.
  const none = await runCli(['outcomes', '--api', (providers[0] as CliNode).ready.api])
  assert.is(none.code, 1)
  assert.match(none.stderr, /does not follow Proof of Physical Work/)
})

test.run()
