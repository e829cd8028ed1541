// gateway-loss: a gateway that is not the ledger host stops a third of the way in; orders and
// gossip must carry on through the others.
import { background, layout, type Scenario } from './common.js'

export const gatewayLoss: Scenario = {
  name: 'gateway-loss',
  summary: 'a second gateway (not the ledger host) stops a third of the way in',
  minNodes: 12,
  plan: input => {
    const plan = layout(input.nodes, input.rng)
    if (plan.nodes.filter(p => p.role === 'gateway').length < 2) {
      // Small networks get a second gateway taken from the providers' share.
      const victim = plan.nodes.findIndex(p => p.role === 'provider' && !p.dhtServer)
      plan.nodes.splice(victim, 1)
      plan.nodes.splice(1, 0, { id: 'gateway-1', role: 'gateway', region: 'US', behaviour: 'honest', dhtServer: true, initial: true })
    }
    plan.events.push({ at: Math.round(input.durationMs / 3), kind: 'leave', node: 'gateway-1' })
    background(plan, input)
    return plan
  }
}
