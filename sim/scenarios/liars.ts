// liars: ≈10 % of checkers lie (half pass everyone, half fail everyone), next to the cheaters
// scenario's cheating providers: the quorum of honest checkers must still decide correctly.
import { background, layout, providersOf, type Scenario } from './common.js'
import { CHEATING } from '../schedule.js'

export const liars: Scenario = {
  name: 'liars',
  summary: '≈10 % lying checkers (always pass / always fail) plus cheating providers',
  minNodes: 14,
  plan: input => {
    const plan = layout(input.nodes, input.rng)
    const checkers = plan.nodes.filter(p => p.role === 'checker')
    const liarCount = Math.max(1, Math.round(checkers.length / 10))
    input.rng.sample(checkers, liarCount).forEach((c, i) => { c.behaviour = i % 2 === 0 ? 'liar-fail' : 'liar-pass' })
    const candidates = providersOf(plan).filter(p => !p.dhtServer)
    input.rng.sample(candidates, Math.max(2, Math.round(providersOf(plan).length / 20))).forEach((p, i) => { p.behaviour = CHEATING[i % 3] as typeof p.behaviour })
    background(plan, input)
    return plan
  }
}
