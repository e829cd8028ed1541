// `kaisar-node order`: find providers, ask each for a quote, choose, pay the escrow on the
// ledger, ask the chosen provider for the lease, and follow it to "deployed" (or "failed").
import { randomBytes } from 'node:crypto'
import { u8aToHex } from '@polkadot/util'
import { leaseCreatePayload, type LeaseEvent, type Order } from '../../protocols/lease/messages.js'
import { KaisarError } from '../errors.js'
import { NEUTRAL_SCORE } from '../popw/scores.js'
import { checkedProviders, rankCandidates, type Candidate, type Ranked } from './scheduler.js'
import { knowProvider, leaseEvents, requestQuote } from './lease-client.js'
import type { BookedLease } from './lease-book.js'
import type { ProviderFilter } from '../services/discovery.js'
import type { SettledScores } from './settled-scores.js'
import type { UserNode } from './user-node.js'

export class OrderError extends KaisarError<{ code: 'NO_PROVIDER' | 'NO_FUNDS' | 'LEASE_FAILED' | 'LEASE_REFUSED' }> {
  constructor (code: 'NO_PROVIDER' | 'NO_FUNDS' | 'LEASE_FAILED' | 'LEASE_REFUSED', message: string) { super({ code }, message) }
}

export interface OrderOptions {
  filter: ProviderFilter
  maxPricePerHour?: bigint
  /** Ask at most this many candidates for quotes. */
  maxCandidates?: number
  /**
   * Checkers' settled outcomes (./settled-scores.ts). Once the network has any, only providers
   * whose latest outcome is a pass are schedulable (a new provider waits for its first check);
   * without them every provider is neutral (0.5).
   */
  checks?: SettledScores
  onEvent?: (event: LeaseEvent) => void
  onProgress?: (message: string) => void
}

export interface OrderResult {
  lease: BookedLease
  chosen: Ranked
  ranked: Ranked[]
  rejected: Array<{ provider: string, why: string }>
  events: LeaseEvent[]
}

export async function placeOrder (user: UserNode, order: Order, opts: OrderOptions): Promise<OrderResult> {
  const progress = opts.onProgress ?? (() => {})
  progress('looking for providers…')
  const found = await user.discovery.find({ ...opts.filter, limit: undefined }, { timeoutMs: 10_000 })
  if (found.length === 0) throw new OrderError('NO_PROVIDER', `no provider matches ${JSON.stringify(opts.filter)}`)
  const checks = opts.checks
  const { ok: checked, rejected } = checks != null ? checkedProviders(found, checks.scores, checks.epochs.length) : { ok: found, rejected: [] as Array<{ provider: string, why: string }> }
  if (checked.length === 0) throw new OrderError('NO_PROVIDER', `no provider has passed its latest check (${rejected.length} found; checkers settle once per epoch, try again shortly): ${rejected.map(r => `${r.provider.slice(-8)}: ${r.why}`).join('; ')}`)
  progress(`${checked.length} candidate(s); asking for quotes…`)
  const quotes = await Promise.allSettled(checked.slice(0, opts.maxCandidates ?? 8).map(async p => {
    const peer = await knowProvider(user.libp2p, p.peerId, p.addresses)
    const { quote, rttMs } = await requestQuote(user.libp2p, peer, order, { signal: AbortSignal.timeout(10_000) })
    if (quote.provider !== p.peerId || quote.wallet !== p.wallet) throw new Error('the quote does not match the provider\'s record')
    return { quote, rttMs, score: checks?.scores.score(p.peerId) ?? NEUTRAL_SCORE, addresses: p.addresses } satisfies Candidate
  }))
  const candidates = quotes.flatMap(q => q.status === 'fulfilled' ? [q.value] : [])
  const ranking = rankCandidates(candidates, opts.maxPricePerHour)
  const ranked = ranking.ranked
  rejected.push(...ranking.rejected)
  quotes.forEach((q, i) => { if (q.status === 'rejected') rejected.push({ provider: checked[i]?.peerId ?? '?', why: `no quote: ${(q.reason as Error).message}` }) })
  const chosen = ranked[0]
  if (chosen == null) throw new OrderError('NO_PROVIDER', `no provider can take this order: ${rejected.map(r => `${r.provider.slice(-8)}: ${r.why}`).join('; ')}`)

  // Pay: the escrow covers the whole lease at the quoted price.
  const price = BigInt(chosen.quote.pricePerHour)
  const amount = (price * BigInt(order.seconds) + 3599n) / 3600n
  const escrow = amount > 0n ? amount : 1n
  const leaseId = `L${randomBytes(10).toString('hex')}`
  const account = await user.ledger.account(user.identity.wallet.address)
  if (account.free < escrow) {
    if (user.ledger.kind !== 'local') throw new OrderError('NO_FUNDS', `wallet ${user.identity.wallet.address} has ${account.free}, the escrow needs ${escrow}`)
    progress('devnet: funding the wallet from the faucet…')
    await user.ledger.submit(user.identity.wallet, { kind: 'faucet', amount: escrow - account.free + 10n ** BigInt(user.ledger.decimals) })
  }
  progress(`paying ${escrow} into escrow for lease ${leaseId}…`)
  await user.ledger.submit(user.identity.wallet, { kind: 'deposit', leaseId, provider: chosen.quote.wallet, amount: escrow, pricePerHour: price, maxSeconds: order.seconds })

  const lease: BookedLease = {
    leaseId, provider: chosen.quote.provider, providerWallet: chosen.quote.wallet, addresses: chosen.addresses, order,
    pricePerHour: chosen.quote.pricePerHour, escrow: escrow.toString(), status: 'deploying', createdAt: Date.now()
  }
  await user.book.put(lease)
  const peer = await knowProvider(user.libp2p, lease.provider, lease.addresses)
  const signature = u8aToHex(user.identity.wallet.sign(leaseCreatePayload(leaseId, order, user.libp2p.peerId.toString(), lease.provider)))
  const events: LeaseEvent[] = []
  const create = { op: 'create' as const, leaseId, order, user: user.identity.wallet.address, signature, holders: user.gatewayPeers.slice(0, 4) }
  for await (const event of leaseEvents(user.libp2p, peer, create, { signal: AbortSignal.timeout(15 * 60_000) })) {
    events.push(event)
    opts.onEvent?.(event)
    if (event.event === 'deployed') {
      const done = await user.book.update(leaseId, { status: 'running', token: event.token, expiresAt: event.expiresAt })
      return { lease: done, chosen, ranked, rejected, events }
    }
    if (event.event === 'failed') {
      await giveUp(user, leaseId, event.reason)
      throw new OrderError('LEASE_FAILED', `lease ${leaseId} failed (${event.code}): ${event.reason}`)
    }
    if (event.event === 'error') {
      await giveUp(user, leaseId, event.message)
      throw new OrderError('LEASE_REFUSED', `the provider refused lease ${leaseId} (${event.code}): ${event.message}`)
    }
  }
  await giveUp(user, leaseId, 'the provider closed the stream before deploying')
  throw new OrderError('LEASE_FAILED', `lease ${leaseId}: the provider closed the stream before deploying`)
}

/** A lease that never ran: its whole escrow comes back (the provider may have closed it already: DUPLICATE). */
async function giveUp (user: UserNode, leaseId: string, reason: string): Promise<void> {
  await user.book.update(leaseId, { status: 'failed', reason })
  await user.ledger.submit(user.identity.wallet, { kind: 'closeLease', leaseId, reason: 'failed' }).catch(() => {})
}
