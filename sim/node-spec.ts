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

/**
 * What every node of a run shares besides PoPW: gossipsub's heartbeat, kad-dht's self-query and
 * the providers' record republishing (all dilated with the run's other intervals) and, when set,
 * gossipsub's mesh degrees.
 */
export interface SimNodeSettings { gossipHeartbeatMs: number, dhtSelfQueryMs: number, recordRepublishMs: number, gossipMesh?: GossipMesh }

/** `d=4,dLow=3,dHigh=6,dLazy=4,dOut=1,dScore=2`: the form `--gossip-mesh` takes and the report prints. */
export function meshText (m: GossipMesh): string {
  return Object.entries(m).map(([k, v]) => `${k}=${String(v)}`).join(',')
}

export function nodeSpec (plan: NodePlan, popw: Record<string, unknown>, nodes: number, epochMs: number, settings: SimNodeSettings): { spec: ClusterNodeSpec, runtime?: MemoryRuntime } {
  // A DHT server is asked by every node sooner or later (with ≤ 40 servers a walk touches most of
  // them); at the default 300 a server of a 1,000-node run trims idle clients that dial it again
  // at their next walk (connection churn). A connection per node, as a gateway holds, does not fit
  // the file descriptors: between shards each is a TCP socket at both ends, and a worker of a
  // 1,000-node run passed its 20,000 (EMFILE, sim/README.md stop 27). So at most 600.
  const maxConnections = plan.role === 'gateway' ? Math.max(300, nodes * 2 + 100) : plan.dhtServer ? Math.max(300, Math.min(600, nodes + 100)) : 300
  const network = { dhtServer: plan.dhtServer, maxConnections, gossipHeartbeatMs: settings.gossipHeartbeatMs, dhtSelfQueryMs: settings.dhtSelfQueryMs, ...(settings.gossipMesh != null ? { gossipMesh: settings.gossipMesh } : {}) }
  if (plan.role !== 'provider') {
    const config = { popw, network }
    const checker = plan.behaviour === 'liar-pass' ? alwaysPass : plan.behaviour === 'liar-fail' ? alwaysFail : undefined
    return { spec: { role: plan.role, name: plan.id, region: plan.region, config, ...(checker != null ? { popwHooks: { checker } } : {}) } }
  }
  // Honest providers claim exactly what they have: a CPU (a simulated GPU would be challenged at GPU speed on this CPU).
  const inventory = simulatedInventory(plan.behaviour === 'fake-class' ? [SIM_GPUS.h100] : [])
  const responder = plan.behaviour === 'slow' ? slowResponder(epochMs) /* past any deadline, which lies inside the epoch's probe window */ : plan.behaviour === 'replay' ? replayResponder() : undefined
  const config = { popw, network, provider: { recordRepublishMs: settings.recordRepublishMs } }
  const runtime = new MemoryRuntime()
  return { spec: { role: 'provider', name: plan.id, region: plan.region, inventory, config, runtime, ...(responder != null ? { popwHooks: { responder } } : {}) }, runtime }
}
