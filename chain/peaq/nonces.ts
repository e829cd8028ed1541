// Nonces, tracked here rather than asked of the chain for each transaction: a nonce read from
// chain state lags transactions still in the pool (→ "1010: stale" or a replaced transaction),
// so we read `system_accountNextIndex` (which counts the pool) once, then count ourselves.
// Any doubt (a refused or lost send, a reconnection) forgets the count, and the next
// transaction reads it again.

/** Runs tasks for one key one after another (and tasks for different keys in parallel). */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>()

  async run<T> (key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve()
    const next = prev.then(task, task)
    const tail = next.catch(() => {})
    this.tails.set(key, tail)
    void tail.then(() => { if (this.tails.get(key) === tail) this.tails.delete(key) })
    return await next
  }
}

export class NonceTracker {
  private readonly next = new Map<string, number>()

  /** The nonce to sign the next transaction of `address` with. Call under the address's lock. */
  async take (address: string, fetch: () => Promise<number>): Promise<number> {
    const known = this.next.get(address)
    if (known != null) return known
    const fetched = await fetch()
    this.next.set(address, fetched)
    return fetched
  }

  /** The pool accepted a transaction with `nonce`. */
  used (address: string, nonce: number): void {
    this.next.set(address, nonce + 1)
  }

  forget (address?: string): void {
    if (address == null) this.next.clear()
    else this.next.delete(address)
  }
}
