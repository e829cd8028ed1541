// The provider's leases, in the state DB: what was ordered, by whom, where it runs, until
// when, and how it ended. The container engine is the truth for whether a container runs;
// this is the truth for what was promised (and survives a provider restart).
import type { Order, LeaseStatus } from '../../../protocols/lease/messages.js'
import type { StateDb, SubDb } from '../../store/state-db.js'

export interface LeaseRecord {
  leaseId: string
  /** Paying wallet (the escrow's user). */
  user: string
  /** The user's node: the token's holder, and who may cancel or read logs. */
  userPeer: string
  /** Other peers the token opens tunnels for (gateways' HTTP ingress). */
  holders?: string[]
  order: Order
  status: LeaseStatus
  createdAt: number
  deployedAt?: number
  /** Lease end (ms): deployedAt + order.seconds. */
  expiresAt?: number
  endedAt?: number
  /** Container port → host port on 127.0.0.1. */
  ports: Record<string, number>
  token?: string
  /** Why it failed or stopped. */
  reason?: string
  failureCode?: string
}

export class LeaseStore {
  private readonly db: SubDb<string>
  private readonly cache = new Map<string, LeaseRecord>()

  constructor (stateDb: StateDb) {
    this.db = stateDb.sublevel<string, string>('leases', { valueEncoding: 'utf8' })
  }

  /** Loads every lease (at start); later reads come from memory. */
  async load (): Promise<LeaseRecord[]> {
    for await (const [key, value] of this.db.iterator()) this.cache.set(key, JSON.parse(value) as LeaseRecord)
    return [...this.cache.values()]
  }

  get (leaseId: string): LeaseRecord | undefined {
    return this.cache.get(leaseId)
  }

  all (): LeaseRecord[] {
    return [...this.cache.values()]
  }

  active (): LeaseRecord[] {
    return this.all().filter(l => l.status === 'accepted' || l.status === 'deploying' || l.status === 'running')
  }

  /** Writes the lease (the DB before memory: what callers see is always persisted). */
  async put (lease: LeaseRecord): Promise<void> {
    await this.db.put(lease.leaseId, JSON.stringify(lease))
    this.cache.set(lease.leaseId, lease)
  }

  async update (leaseId: string, change: Partial<LeaseRecord>): Promise<LeaseRecord> {
    const current = this.cache.get(leaseId)
    if (current == null) throw new Error(`unknown lease ${leaseId}`)
    const next = { ...current, ...change }
    await this.put(next)
    return next
  }
}
