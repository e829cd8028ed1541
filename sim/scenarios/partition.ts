// partition: the network splits in two part-way through the measured window and later heals,
// the way a real one splits: along geography (a cut undersea cable, a transit provider's outage).
// Two of the five regions, never the ledger host's, lose every link to the other three: side B
// holds their providers (≈ 40 %), a second gateway and ≈ 35 % of the checkers; side A keeps the
// ledger host, the rest and the users. Orders keep coming during the split, for every region:
// those for side-A regions must be deployed on side-A providers, those for side-B regions cannot
// be served from side A and must fail before anything is paid.
import { REGIONS, type NodePlan } from '../schedule.js'
import { background, layout, providersOf, spreadOrders, type Scenario } from './common.js'

/** Share of the checkers cut off with side B. */
const CHECKERS_CUT_OFF = 0.35

export const partition: Scenario = {
  name: 'partition',
  summary: 'two regions (≈40 % of providers, a gateway, ≈35 % of checkers) split off 20–25 % in, heal at 55–60 %',
  minNodes: 12,
  plan: input => {
    const plan = layout(input.nodes, input.rng)
    const host = plan.nodes[0] as NodePlan
    // Side B: two regions other than the ledger host's, seeded.
    const regionsB: string[] = input.rng.sample(REGIONS.filter(r => r !== host.region), 2)
    const regionsA: string[] = REGIONS.filter(r => !regionsB.includes(r))
    if (plan.nodes.filter(p => p.role === 'gateway').length < 2) {
      // Small networks get a second gateway (side B's) from the providers' share, as gateway-loss does.
      const victim = plan.nodes.findIndex(p => p.role === 'provider' && !p.dhtServer)
      plan.nodes.splice(victim, 1)
      plan.nodes.splice(1, 0, { id: 'gateway-1', role: 'gateway', region: regionsB[0] as string, behaviour: 'honest', dhtServer: true, initial: true })
    }
    // Every other gateway but the host's goes with side B (at least gateway-1): each side keeps one to join through.
    const gatewaysB = plan.nodes.filter((p, i) => p.role === 'gateway' && i % 2 === 1)
    gatewaysB.forEach((g, i) => { g.region = regionsB[i % 2] as string })
    // Checkers have seeded random regions: move exactly the cut-off share into side B's regions and the rest out of them.
    const checkers = plan.nodes.filter(p => p.role === 'checker')
    const checkersB = new Set(input.rng.sample(checkers, Math.max(1, Math.round(checkers.length * CHECKERS_CUT_OFF))))
    checkers.forEach((c, i) => {
      if (checkersB.has(c)) { if (!regionsB.includes(c.region)) c.region = regionsB[i % 2] as string } else if (regionsB.includes(c.region)) c.region = regionsA[i % regionsA.length] as string
    })
    const group = plan.nodes.filter(p => p.role !== 'gateway' ? regionsB.includes(p.region) : gatewaysB.includes(p)).map(p => p.id)
    if (!providersOf(plan).some(p => !group.includes(p.id))) throw new RangeError('the partition left side A without providers')

    const splitAt = Math.round(input.durationMs * (0.2 + 0.05 * input.rng.next()))
    const healAt = Math.round(input.durationMs * (0.55 + 0.05 * input.rng.next()))
    plan.events.push({ at: splitAt, kind: 'partition', group }, { at: healAt, kind: 'heal' })
    background(plan, input)
    // Orders while split (every region, from side A's users): what the split does to ordering.
    spreadOrders(plan, Math.max(6, Math.round(input.nodes / 10)), splitAt + 500, healAt - 1000, input.rng, 'split')
    return plan
  }
}
