// The simulator's plan of a run, derived from (scenario, size, duration, seed) only: which nodes
// exist with which role and behaviour, and every event (orders, DHT lookups, providers leaving
// and joining, the network splitting and healing) with its time. Nothing here reads the clock
// or Math.random, so one seed always gives the same schedule, and `scheduleHash` lets a test or
// a report compare two of them.
import { createHash } from 'node:crypto'
import type { Role } from '../node/config/schema.js'

/** What a node does beyond running the real code: cheating providers and lying checkers (sim/cheats.ts). */
export const BEHAVIOURS = ['honest', 'fake-class', 'slow', 'replay', 'offline', 'liar-pass', 'liar-fail'] as const
export type Behaviour = typeof BEHAVIOURS[number]
export const CHEATING: readonly Behaviour[] = ['fake-class', 'slow', 'replay', 'offline']

export interface NodePlan {
  /** Stable name within the run (`provider-12`), the same for the same seed. */
  id: string
  role: Role
  region: string
  behaviour: Behaviour
  /** Kad-DHT server (answers queries) or client (only asks): servers are the expensive kind. */
  dhtServer: boolean
  /** Started with the cluster (true) or by a `join` event. */
  initial: boolean
}

/** Times are ms after the start of the measured window (wall clock, already dilated). */
export type SimEvent =
  | { at: number, kind: 'order', user: number, order: string, region: string }
  | { at: number, kind: 'dht-lookup', from: string, target: string }
  | { at: number, kind: 'leave', node: string }
  | { at: number, kind: 'join', node: string }
  /** The network splits: `group` (node ids; users stay with the rest) is cut off from everyone else, the ledger host's side. */
  | { at: number, kind: 'partition', group: string[] }
  /** The split ends: every link may form again. */
  | { at: number, kind: 'heal' }

export interface SimSchedule {
  scenario: string
  seed: number
  dilation: number
  durationMs: number
  epochMs: number
  heartbeatMs: number
  nodes: NodePlan[]
  /** Light user nodes (not KaisarNodes) that place the orders. */
  users: number
  events: SimEvent[]
}

export const REGIONS = ['DE', 'US', 'SG', 'BR', 'JP'] as const

/** mulberry32: small, fast, good enough to spread events; seeded, so runs are repeatable. */
export class Prng {
  private state: number
  constructor (seed: number) { this.state = (seed >>> 0) ^ 0x9e3779b9 }
  next (): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  int (maxExclusive: number): number { return Math.floor(this.next() * maxExclusive) }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list')
    return items[this.int(items.length)] as T
  }

  /** `count` distinct items, in a seeded order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const copy = [...items]
    for (let i = copy.length - 1; i > 0; i--) { const j = this.int(i + 1); [copy[i], copy[j]] = [copy[j] as T, copy[i] as T] }
    return copy.slice(0, Math.min(count, copy.length))
  }
}

/** The same bytes for the same schedule (keys in insertion order, which the builders fix). */
export function scheduleHash (s: SimSchedule): string {
  return createHash('sha256').update(JSON.stringify(s)).digest('hex')
}

/** Events in time order (ties by kind then target, so sorting is deterministic). */
export function sortEvents (events: SimEvent[]): SimEvent[] {
  const key = (e: SimEvent): string => e.kind === 'order' ? e.order : e.kind === 'dht-lookup' ? `${e.from}>${e.target}` : e.kind === 'partition' || e.kind === 'heal' ? '' : e.node
  return [...events].sort((a, b) => a.at - b.at || a.kind.localeCompare(b.kind) || key(a).localeCompare(key(b)))
}
