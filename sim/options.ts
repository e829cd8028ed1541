// `kaisar-node sim` flags, checked: every bad value is one error that names its flag.
import { gossipMeshSchema, type GossipMesh } from '../node/config/schema.js'
import { KaisarError } from '../node/errors.js'
import { MIN_NODES, type SimOptions } from './runner.js'
import { SCENARIOS } from './scenarios/index.js'

export class SimFlagError extends KaisarError<{ code: 'SIM_FLAG', flag: string }> {
  constructor (flag: string, reason: string) { super({ code: 'SIM_FLAG', flag }, `${flag}: ${reason}`) }
}

export interface SimFlags { scenario?: string, nodes?: string, duration?: string, seed?: string, dilation?: string, epochMs?: string, heartbeatMs?: string, gossipHeartbeatMs?: string, gossipMesh?: string, startRate?: string, latencyMs?: string, shards?: string, transport?: string, kernelLinks?: boolean, linkNoise?: boolean, trunks?: boolean }

/** "90s", "3m", "1500ms" or a bare number of seconds. */
export function parseDuration (text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (m == null) return undefined
  const n = Number(m[1])
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000)
}

function integer (flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text == null) return fallback
  const n = Number(text)
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new SimFlagError(flag, `"${text}" is not an integer`)
  if (n < min || n > max) throw new SimFlagError(flag, `${n} is outside ${min}..${max}`)
  return n
}

/** `--gossip-mesh d=4,dLow=3,…`: the keys of the node's `network.gossipMesh`; the ones left out keep gossipsub's own. */
export function parseGossipMesh (text: string): GossipMesh {
  const given: Record<string, number> = {}
  for (const pair of text.split(',').map(p => p.trim()).filter(p => p.length > 0)) {
    const m = /^([A-Za-z]+)=(\d+)$/.exec(pair)
    if (m == null) throw new SimFlagError('--gossip-mesh', `"${pair}" is not KEY=N (keys: ${Object.keys(gossipMeshSchema.parse({})).join(', ')})`)
    given[m[1] as string] = Number(m[2])
  }
  const parsed = gossipMeshSchema.safeParse(given)
  if (!parsed.success) throw new SimFlagError('--gossip-mesh', parsed.error.issues.map(i => `${i.path.join('.') || 'mesh'}: ${i.message}`).join('; '))
  return parsed.data
}

export function simOptions (flags: SimFlags): SimOptions {
  const scenario = flags.scenario
  if (scenario == null) throw new SimFlagError('--scenario', `required: one of ${Object.keys(SCENARIOS).join(', ')}`)
  const spec = SCENARIOS[scenario]
  if (spec == null) throw new SimFlagError('--scenario', `unknown scenario "${scenario}" (one of ${Object.keys(SCENARIOS).join(', ')})`)
  const nodes = integer('--nodes', flags.nodes, 50, MIN_NODES, 5000)
  if (nodes < spec.minNodes) throw new SimFlagError('--nodes', `scenario ${scenario} needs at least ${spec.minNodes} nodes (got ${nodes})`)
  const dilationText = flags.dilation ?? '1'
  const dilation = Number(dilationText)
  if (!/^\d+(\.\d+)?$/.test(dilationText) || !(dilation >= 1) || dilation > 100) throw new SimFlagError('--dilation', `"${dilationText}" must be a number from 1 to 100`)
  const baseEpochMs = integer('--epoch-ms', flags.epochMs, 10_000, 1000, 600_000)
  const baseHeartbeatMs = integer('--heartbeat-ms', flags.heartbeatMs, 5_000, 200, 600_000)
  const epochMs = Math.round(baseEpochMs * dilation)
  const durationMs = parseDuration(flags.duration ?? '') ?? (flags.duration == null ? 3 * epochMs : undefined)
  if (durationMs == null) throw new SimFlagError('--duration', `"${flags.duration ?? ''}" is not a duration (e.g. 90s, 3m, 45000ms)`)
  if (durationMs < 2 * epochMs) throw new SimFlagError('--duration', `${durationMs} ms is shorter than 2 epochs (${2 * epochMs} ms at ×${dilation}); outcomes need whole epochs`)
  if (durationMs > 6 * 3600_000) throw new SimFlagError('--duration', 'at most 6 h')
  const shards = integer('--shards', flags.shards, 1, 1, 64)
  const transport = flags.transport ?? (shards > 1 ? 'tcp' : 'memory')
  if (transport !== 'memory' && transport !== 'tcp') throw new SimFlagError('--transport', `"${transport}" is not one of memory, tcp`)
  if (shards > 1 && transport !== 'tcp') throw new SimFlagError('--transport', `${shards} shards need tcp: the memory transport does not cross processes`)
  if (shards > 1 && scenario === 'partition') throw new SimFlagError('--shards', 'the partition scenario runs in one process (its cut is a connection gater in each node\'s process)')
  const latencyMs = integer('--latency-ms', flags.latencyMs, 0, 0, 10_000)
  if (latencyMs > 0 && transport !== 'memory') throw new SimFlagError('--latency-ms', 'link latency is the memory transport\'s (with tcp, use the netns mode: sim/netns)')
  return {
    scenario,
    nodes,
    seed: integer('--seed', flags.seed, 1, 0, 2 ** 32 - 1),
    durationMs,
    dilation,
    baseEpochMs,
    baseHeartbeatMs,
    baseGossipHeartbeatMs: integer('--gossip-heartbeat-ms', flags.gossipHeartbeatMs, 1000, 50, 60_000),
    ...(flags.gossipMesh != null ? { gossipMesh: parseGossipMesh(flags.gossipMesh) } : {}),
    startRate: integer('--start-rate', flags.startRate, 0, 0, 10_000),
    latencyMs,
    shards,
    transport,
    inProcessLinks: flags.kernelLinks !== true,
    linkNoise: flags.linkNoise === true,
    trunks: flags.trunks !== false
  }
}
