// Issue 7, done-when 2 (churn): the simulator's churn scenario at small scale. Every epoch after
// the first, 10 % of the providers leave and as many new ones join (20 % of the provider set per
// epoch) while users keep ordering; ≥ 99 % of the orders must reach `deployed`.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runSim } from '../../sim/runner.js'
import { testLogger } from '../helpers/popw.js'

test('churn: 20 % of providers leave or join per epoch, ≥ 99 % of orders succeed', async () => {
  const r = await runSim({ scenario: 'churn', nodes: 16, seed: 5, durationMs: 20_000, dilation: 1, baseEpochMs: 5000, baseHeartbeatMs: 2000, logger: testLogger() })
  const epochsWithChurn = Math.floor(r.durationMs / r.epochMs) - 1
  assert.ok(r.played.leave + r.played.join >= 0.2 * r.providersAtStart * epochsWithChurn,
    `churn played: ${r.played.leave} leaves + ${r.played.join} joins over ${epochsWithChurn} epochs of ${r.providersAtStart} providers`)
  assert.ok(r.orders.total >= 10, `orders placed: ${r.orders.total}`)
  assert.ok(r.orders.ok / r.orders.total >= 0.99, `orders ${r.orders.ok}/${r.orders.total}: ${r.orders.failures.join('; ')}`)
  assert.is(r.outcomes.honestFailed, 0, JSON.stringify(r.outcomes.providers.filter(p => p.judged === 'failed')))
})

test.run()
