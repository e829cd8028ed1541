// cheaters: about 10 % of providers cheat, in equal parts (at least one of each): a claimed GPU
// class they lack, answers after every deadline, replayed answers, going offline mid-run.
import { CHEATING } from '../schedule.js'
import { background, layout, providersOf, type Scenario } from './common.js'

export const cheaters: Scenario = {
  name: 'cheaters',
  summary: '≈10 % cheating providers (fake GPU class, slow, replay, offline mid-run)',
  minNodes: 12,
  plan: input => {
    const plan = layout(input.nodes, input.rng)
    // DHT servers stay honest: an offline server would also be a DHT outage, another scenario.
    const candidates = providersOf(plan).filter(p => !p.dhtServer)
    const count = Math.max(CHEATING.length, Math.round(providersOf(plan).length / 10))
    input.rng.sample(candidates, count).forEach((p, i) => { p.behaviour = CHEATING[i % CHEATING.length] as typeof p.behaviour })
    for (const p of plan.nodes.filter(p => p.behaviour === 'offline')) {
      plan.events.push({ at: Math.round(input.durationMs * (0.2 + 0.15 * input.rng.next())), kind: 'leave', node: p.id })
    }
    background(plan, input)
    return plan
  }
}
