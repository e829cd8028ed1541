// What every scenario starts from: a network of N KaisarNodes (gateways, checkers, providers),
// a few user nodes, and background traffic (orders spread over the run, DHT lookups of provider
// records). Scenarios then change behaviours and add their own events.
import { REGIONS, type NodePlan, type Prng, type SimEvent } from '../schedule.js'

export interface ScenarioInput {
  nodes: number
  durationMs: number
  epochMs: number
  rng: Prng
}

export interface ScenarioPlan {
  nodes: NodePlan[]
  users: number
  events: SimEvent[]
}

export interface Scenario {
  name: string
  /** One line for `sim --help`. */
  summary: string
  minNodes: number
  plan: (input: ScenarioInput) => ScenarioPlan
}

/**
 * DHT servers are the expensive nodes (≈ 50 per core in one process, DESIGN §4): gateways and
 * the first "stable" providers serve, everyone else is a client.
 */
export const MAX_DHT_SERVERS = 40

export function layout (n: number, rng: Prng): ScenarioPlan {
  const gateways = Math.max(1, Math.round(n / 150))
  const checkers = Math.max(5, Math.round(n / 10))
  const providers = n - gateways - checkers
  if (providers < 3) throw new RangeError(`${n} nodes leave fewer than 3 providers`)
  const nodes: NodePlan[] = []
  for (let i = 0; i < gateways; i++) nodes.push({ id: `gateway-${i}`, role: 'gateway', region: REGIONS[i % REGIONS.length] as string, behaviour: 'honest', dhtServer: true, initial: true })
  for (let i = 0; i < checkers; i++) nodes.push({ id: `checker-${i}`, role: 'checker', region: rng.pick(REGIONS), behaviour: 'honest', dhtServer: false, initial: true })
  // Small networks: a third of the providers serve (so cheaters and leavers can be clients).
  const providerServers = Math.max(2, Math.min(MAX_DHT_SERVERS - gateways, Math.floor(providers / 3)))
  // Regions round-robin from a seeded offset: every region has providers (orders ask by region).
  const offset = rng.int(REGIONS.length)
  for (let i = 0; i < providers; i++) nodes.push({ id: `provider-${i}`, role: 'provider', region: REGIONS[(i + offset) % REGIONS.length] as string, behaviour: 'honest', dhtServer: i < providerServers, initial: true })
  return { nodes, users: Math.max(1, Math.min(8, Math.round(n / 100))), events: [] }
}

/** Orders spread evenly (with seeded jitter) over the middle of the run, from round-robin users. */
export function spreadOrders (plan: ScenarioPlan, count: number, fromMs: number, toMs: number, rng: Prng, prefix = 'order'): void {
  const span = Math.max(1, toMs - fromMs)
  for (let i = 0; i < count; i++) {
    const at = Math.round(fromMs + span * (i + rng.next()) / count)
    plan.events.push({ at, kind: 'order', user: i % plan.users, order: `${prefix}-${i}`, region: rng.pick(REGIONS) })
  }
}

/** A provider's record looked up through the DHT from a random node, `count` times over the run. */
export function spreadLookups (plan: ScenarioPlan, count: number, durationMs: number, rng: Prng): void {
  const providers = plan.nodes.filter(p => p.role === 'provider' && p.initial)
  const all = plan.nodes.filter(p => p.initial)
  for (let i = 0; i < count; i++) {
    const at = Math.round(durationMs * 0.9 * (i + rng.next()) / count)
    plan.events.push({ at, kind: 'dht-lookup', from: rng.pick(all).id, target: rng.pick(providers).id })
  }
}

/** The usual background: orders ≈ 1 per 25 nodes, lookups ≈ 1 per 3 nodes (at most 300). */
export function background (plan: ScenarioPlan, input: ScenarioInput): void {
  spreadOrders(plan, Math.max(4, Math.round(input.nodes / 25)), input.durationMs * 0.05, input.durationMs * 0.7, input.rng)
  spreadLookups(plan, Math.min(300, Math.max(10, Math.round(input.nodes / 3))), input.durationMs, input.rng)
}

export function providersOf (plan: ScenarioPlan): NodePlan[] {
  return plan.nodes.filter(p => p.role === 'provider')
}
