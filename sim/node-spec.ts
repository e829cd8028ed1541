// A node plan (sim/schedule.ts) made into a cluster node spec: the network-wide PoPW parameters,
// the role's config, simulated hardware and runtime, and a cheater's or liar's hooks. Shared by
// the runner and the shard workers (sim/shard.ts), so a node is the same whichever process runs it
// (and its log lines carry the plan's id, the name the report uses, whichever process wrote them).
import { alwaysFail, alwaysPass, replayResponder, slowResponder } from './cheats.js'
import { SIM_GPUS, simulatedInventory } from './hardware.js'
import { MemoryRuntime } from './runtime.js'
import type { ClusterNodeSpec } from './cluster.js'
import type { GossipMesh } from '../node/config/schema.js'
import type { NodePlan, SimSchedule } from './schedule.js'

/** Network-wide PoPW parameters: small challenges (hundreds of providers share two cores), a deadline allowance that grows with the load. */
export function popwConfig (s: SimSchedule, nodes: number): Record<string, unknown> {
  return { epochMs: s.epochMs, k: 3, backups: 1, challengeMs: 5, challengeAllowanceMs: Math.min(Math.round(s.epochMs / 5), 600 + 4 * nodes), bandwidthBytes: 16 * 1024 }
}

/** gossipsub's settings for every node of a run: its heartbeat (dilated) and, when set, its mesh degrees. */
export interface SimGossip { heartbeatMs: number, mesh?: GossipMesh }

/** `d=4,dLow=3,dHigh=6,dLazy=4,dOut=1,dScore=2`: the form `--gossip-mesh` takes and the report prints. */
export function meshText (m: GossipMesh): string {
  return Object.entries(m).map(([k, v]) => `${k}=${String(v)}`).join(',')
}

export function nodeSpec (plan: NodePlan, popw: Record<string, unknown>, nodes: number, epochMs: number, gossip: SimGossip): { spec: ClusterNodeSpec, runtime?: MemoryRuntime } {
  const network = { dhtServer: plan.dhtServer, maxConnections: plan.role === 'gateway' ? Math.max(300, nodes * 2 + 100) : 300, gossipHeartbeatMs: gossip.heartbeatMs, ...(gossip.mesh != null ? { gossipMesh: gossip.mesh } : {}) }
  const config = { popw, network }
  if (plan.role !== 'provider') {
    const checker = plan.behaviour === 'liar-pass' ? alwaysPass : plan.behaviour === 'liar-fail' ? alwaysFail : undefined
    return { spec: { role: plan.role, name: plan.id, region: plan.region, config, ...(checker != null ? { popwHooks: { checker } } : {}) } }
  }
  // Honest providers claim exactly what they have: a CPU (a simulated GPU would be challenged at GPU speed on this CPU).
  const inventory = simulatedInventory(plan.behaviour === 'fake-class' ? [SIM_GPUS.h100] : [])
  const responder = plan.behaviour === 'slow' ? slowResponder(epochMs) /* past any deadline, which lies inside the epoch's probe window */ : plan.behaviour === 'replay' ? replayResponder() : undefined
  const runtime = new MemoryRuntime()
  return { spec: { role: 'provider', name: plan.id, region: plan.region, inventory, config, runtime, ...(responder != null ? { popwHooks: { responder } } : {}) }, runtime }
}
