// Issue 7, done-when 2 (cheaters): the simulator's cheaters scenario at small scale. About 10 %
// of providers (here one of each kind: fake GPU class, slow, replaying, going offline) cheat;
// the report, built from the settled outcomes at the ledger host, must show ≥ 99 % of them
// caught and no honest provider failed.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runSim } from '../../sim/runner.js'
import { testLogger } from '../helpers/popw.js'

test('cheaters: ≥ 99 % of cheating providers caught, no honest provider failed', async () => {
  const r = await runSim({ scenario: 'cheaters', nodes: 16, seed: 11, durationMs: 20_000, dilation: 1, baseEpochMs: 5000, baseHeartbeatMs: 2000, logger: testLogger() })
  const why = JSON.stringify(r.outcomes.providers.filter(p => p.judged !== 'clean'))
  assert.ok(r.outcomes.cheatersTotal >= 4, `one cheater of each kind at least (${r.outcomes.cheatersTotal})`)
  assert.ok(r.outcomes.cheatersCaught / r.outcomes.cheatersTotal >= 0.99, `caught ${r.outcomes.cheatersCaught}/${r.outcomes.cheatersTotal}: ${why}`)
  assert.ok(r.outcomes.honestJudged >= 5, `honest providers with outcomes: ${r.outcomes.honestJudged}: ${why}`)
  assert.is(r.outcomes.honestFailed, 0, `honest failed: ${why}`)
  assert.ok(r.outcomes.epochs.filter(e => e.settled).length >= 3, `epochs settled: ${JSON.stringify(r.outcomes.epochs)}`)
  assert.ok(r.outcomes.epochs.reduce((n, e) => n + e.penalties, 0) >= r.outcomes.cheatersTotal, 'every caught cheater was penalised in a settlement')
})

test.run()
