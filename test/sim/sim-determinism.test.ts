// Issue 7, done-when 3: one seed, one run. The cheaters scenario run twice with the same seed
// plays the same schedule (same hash) and ends with the same outcome set (which provider was
// caught, clean, failed); a third schedule from another seed differs.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runSim, type SimOptions } from '../../sim/runner.js'
import { scheduleHash } from '../../sim/schedule.js'
import { buildSchedule } from '../../sim/scenarios/index.js'
import { testLogger } from '../helpers/popw.js'

test('same seed → same schedule and same outcome set; another seed → another schedule', async () => {
  const opts: SimOptions = { scenario: 'cheaters', nodes: 12, seed: 21, durationMs: 15_000, dilation: 1, baseEpochMs: 5000, baseHeartbeatMs: 2000, logger: testLogger() }
  const a = await runSim(opts)
  const b = await runSim(opts)
  assert.is(a.scheduleHash, b.scheduleHash)
  assert.equal(a.played, b.played)
  assert.is(a.outcomeSet.length, a.providersAtStart, `a judgement for every provider: ${a.outcomeSet.join(' ')}`)
  assert.ok(a.outcomeSet.every(o => !o.endsWith(':unjudged')), a.outcomeSet.join(' '))
  assert.ok(a.outcomeSet.some(o => o.endsWith(':caught')), a.outcomeSet.join(' '))
  assert.equal(a.outcomeSet, b.outcomeSet)
  const other = buildSchedule({ scenario: 'cheaters', nodes: 12, seed: 22, durationMs: 15_000, baseEpochMs: 5000, baseHeartbeatMs: 2000, dilation: 1 })
  assert.is.not(scheduleHash(other), a.scheduleHash)
})

test.run()
