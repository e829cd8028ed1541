// churn: every epoch after the first, 10 % of the providers leave and as many new ones join
// (20 % of the provider set changes per epoch), while orders keep coming.
import { background, layout, providersOf, type Scenario } from './common.js'

export const churn: Scenario = {
  name: 'churn',
  summary: '20 % of providers leave or join per epoch (half each), orders throughout',
  minNodes: 12,
  plan: input => {
    const plan = layout(input.nodes, input.rng)
    const initial = providersOf(plan)
    const perEpoch = Math.max(1, Math.round(initial.length / 10))
    const epochs = Math.floor(input.durationMs / input.epochMs)
    // DHT servers stay: losing them is the gateway-loss / partition kind of fault.
    let leavable = input.rng.sample(initial.filter(p => !p.dhtServer), initial.length)
    let joined = 0
    for (let e = 1; e < epochs; e++) {
      for (let i = 0; i < perEpoch && leavable.length > 0; i++) {
        const leaving = leavable[0] as (typeof leavable)[number]
        leavable = leavable.slice(1)
        plan.events.push({ at: Math.round((e + input.rng.next() * 0.8) * input.epochMs), kind: 'leave', node: leaving.id })
        const id = `provider-j${joined++}`
        plan.nodes.push({ id, role: 'provider', region: leaving.region, behaviour: 'honest', dhtServer: false, initial: false })
        plan.events.push({ at: Math.round((e + input.rng.next() * 0.8) * input.epochMs), kind: 'join', node: id })
      }
    }
    background(plan, input)
    return plan
  }
}
