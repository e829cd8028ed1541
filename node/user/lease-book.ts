// The user's own record of their leases (in the user's data dir): which provider, where it
// was reached, the lease token, ports and expiry — what `connect`, `cancel` and `logs` need.
import type { Order } from '../../protocols/lease/messages.js'
import type { StateDb, SubDb } from '../store/state-db.js'

export interface BookedLease {
  leaseId: string
  provider: string
  providerWallet: string
  /** Where the provider was reached (its record's addresses, relay addresses included). */
  addresses: string[]
  order: Order
  pricePerHour: string
  escrow: string
  status: 'deploying' | 'running' | 'failed' | 'stopped'
  token?: string
  expiresAt?: number
  reason?: string
  createdAt: number
}

export class LeaseBook {
  private readonly db: SubDb<string>
  constructor (stateDb: StateDb) {
    this.db = stateDb.sublevel<string, string>('user-leases', { valueEncoding: 'utf8' })
  }

  async put (lease: BookedLease): Promise<void> {
    await this.db.put(lease.leaseId, JSON.stringify(lease))
  }

  async get (leaseId: string): Promise<BookedLease | undefined> {
    const text = await this.db.get(leaseId)
    return text === undefined ? undefined : JSON.parse(text) as BookedLease
  }

  async update (leaseId: string, change: Partial<BookedLease>): Promise<BookedLease> {
    const current = await this.get(leaseId)
    if (current == null) throw new Error(`no lease ${leaseId} in this data dir`)
    const next = { ...current, ...change }
    await this.put(next)
    return next
  }

  async list (): Promise<BookedLease[]> {
    const out: BookedLease[] = []
    for await (const value of this.db.values()) out.push(JSON.parse(value) as BookedLease)
    return out.sort((a, b) => a.createdAt - b.createdAt)
  }
}
