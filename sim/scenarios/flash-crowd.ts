// flash-crowd: one order per 10 nodes (at least 10), all placed within the same second.
import { layout, spreadLookups, spreadOrders, type Scenario } from './common.js'

export const flashCrowd: Scenario = {
  name: 'flash-crowd',
  summary: 'one order per 10 nodes (≥10) placed within one second, 40 % into the run',
  minNodes: 8,
  plan: input => {
    const plan = layout(input.nodes, input.rng)
    const at = Math.round(input.durationMs * 0.4)
    spreadOrders(plan, Math.max(10, Math.round(input.nodes / 10)), at, at + 1000, input.rng, 'flash')
    spreadLookups(plan, Math.min(300, Math.max(10, Math.round(input.nodes / 3))), input.durationMs, input.rng)
    return plan
  }
}
