// churn: every epoch after the first, 10 % of the providers leave and as many new ones join
// (20 % of the provider set changes per epoch), while orders keep coming.
import { layout, providersOf, spreadLookups, spreadOrders, type Scenario } from './common.js'

export const churn: Scenario = {
  name: 'churn',
  summary: '20 % of providers leave or join per epoch (half each), orders throughout',
  minNodes: 12,
  plan: input => {
    const plan = layout(input.nodes, input.rng)
    const initial = providersOf(plan)
    const perEpoch = Math.max(1, Math.ceil(initial.length / 10))
    const epochs = Math.floor(input.durationMs / input.epochMs)
    // DHT servers stay: losing them is the gateway-loss / partition kind of fault. Joiners may
    // leave again from the epoch after the one they joined in.
    const pool: Array<{ id: string, region: string, from: number }> = input.rng.sample(initial.filter(p => !p.dhtServer), initial.length).map(p => ({ id: p.id, region: p.region, from: 0 }))
    let joined = 0
    for (let e = 1; e < epochs; e++) {
      for (let i = 0; i < perEpoch; i++) {
        const k = pool.findIndex(p => p.from < e)
        if (k < 0) break
        const leaving = pool.splice(k, 1)[0] as (typeof pool)[number]
        plan.events.push({ at: Math.round((e + input.rng.next() * 0.8) * input.epochMs), kind: 'leave', node: leaving.id })
        const id = `provider-j${joined++}`
        plan.nodes.push({ id, role: 'provider', region: leaving.region, behaviour: 'honest', dhtServer: false, initial: false })
        plan.events.push({ at: Math.round((e + input.rng.next() * 0.8) * input.epochMs), kind: 'join', node: id })
        pool.push({ id, region: leaving.region, from: e + 1 })
      }
    }
    // More orders than the background's: order success under churn is what this scenario is about.
    spreadOrders(plan, Math.max(10, Math.round(input.nodes / 10)), input.durationMs * 0.05, input.durationMs * 0.75, input.rng)
    spreadLookups(plan, Math.min(300, Math.max(10, Math.round(input.nodes / 3))), input.durationMs, input.rng)
    return plan
  }
}
