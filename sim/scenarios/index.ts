// The scenarios `kaisar-node sim --scenario NAME` knows, and the one way to build a schedule.
import { Prng, sortEvents, type SimSchedule } from '../schedule.js'
import { cheaters } from './cheaters.js'
import { churn } from './churn.js'
import { flashCrowd } from './flash-crowd.js'
import { gatewayLoss } from './gateway-loss.js'
import { liars } from './liars.js'
import { partition } from './partition.js'
import { steady } from './steady.js'
import type { Scenario } from './common.js'

export type { Scenario } from './common.js'

export const SCENARIOS: Record<string, Scenario> = Object.fromEntries([steady, churn, cheaters, liars, gatewayLoss, flashCrowd, partition].map(s => [s.name, s]))

export interface ScheduleInput {
  scenario: string
  nodes: number
  seed: number
  /** Wall-clock length of the measured window, ms. */
  durationMs: number
  /** Protocol intervals before dilation. */
  baseEpochMs: number
  baseHeartbeatMs: number
  /** Every protocol interval is multiplied by this (≥ 1). */
  dilation: number
}

export function buildSchedule (input: ScheduleInput): SimSchedule {
  const scenario = SCENARIOS[input.scenario]
  if (scenario == null) throw new RangeError(`unknown scenario "${input.scenario}"`)
  const epochMs = Math.round(input.baseEpochMs * input.dilation)
  const plan = scenario.plan({ nodes: input.nodes, durationMs: input.durationMs, epochMs, rng: new Prng(input.seed) })
  return {
    scenario: scenario.name,
    seed: input.seed,
    dilation: input.dilation,
    durationMs: input.durationMs,
    epochMs,
    heartbeatMs: Math.round(input.baseHeartbeatMs * input.dilation),
    nodes: plan.nodes,
    users: plan.users,
    events: sortEvents(plan.events)
  }
}
