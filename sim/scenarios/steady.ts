// steady: an honest network under ordinary load; every outcome must pass.
import { background, layout, type Scenario } from './common.js'

export const steady: Scenario = {
  name: 'steady',
  summary: 'honest network, orders and DHT lookups spread over the run',
  minNodes: 8,
  plan: input => {
    const plan = layout(input.nodes, input.rng)
    background(plan, input)
    return plan
  }
}
