// A user renting from a provider in the simulator, the way the user's node does it (issue 5's
// protocols): a quote on /kaisar/bid, an escrow deposit on the ledger, a signed create request on
// /kaisar/lease, then the deployment's events until `deployed`.
import { u8aToHex } from '@polkadot/util'
import { parseTokenAmount } from '../../chain/amount.js'
import { PROTOCOLS } from '../../protocols/ids.js'
import { leaseCreatePayload, leaseEventSchema, quoteSchema, type LeaseEvent, type Order } from '../../protocols/lease/messages.js'
import { JsonFrames } from '../../node/network/json-frames.js'
import { request } from '../../node/network/reqresp.js'
import type { Ledger } from '../../chain/ledger.js'
import type { TxSigner } from '../../node/identity/signer.js'
import type { Libp2p, PeerId } from '@libp2p/interface'

export const SIM_ORDER: Order = { image: 'sim/echo:1', cpus: 1, memoryBytes: 64 * 2 ** 20, gpus: 0, ports: [80], seconds: 600 }

export async function rentLease (o: { user: Libp2p, ledger: Ledger, wallet: TxSigner, provider: PeerId, leaseId: string, order?: Order }): Promise<Extract<LeaseEvent, { event: 'deployed' }>> {
  const order = o.order ?? SIM_ORDER
  const quote = quoteSchema.parse(await request(o.user, o.provider, PROTOCOLS.bid, { order }, { timeoutMs: 10_000 }))
  const price = BigInt(quote.pricePerHour)
  await o.ledger.submit(o.wallet, { kind: 'faucet', amount: parseTokenAmount('100', o.ledger.decimals) })
  await o.ledger.submit(o.wallet, { kind: 'deposit', leaseId: o.leaseId, provider: quote.wallet, amount: price * BigInt(order.seconds) / 3600n + 1n, pricePerHour: price, maxSeconds: order.seconds })
  const signature = u8aToHex(o.wallet.sign(leaseCreatePayload(o.leaseId, order, o.user.peerId.toString(), o.provider.toString())))
  const frames = new JsonFrames(await o.user.dialProtocol(o.provider, PROTOCOLS.lease, { signal: AbortSignal.timeout(10_000) }))
  await frames.write({ op: 'create', leaseId: o.leaseId, order, user: o.wallet.address, signature })
  for (;;) {
    const event = await frames.read(leaseEventSchema, { signal: AbortSignal.timeout(20_000) })
    if (event.event === 'deployed') { await frames.stream.close().catch(() => {}); return event }
    if (event.event === 'failed' || event.event === 'error') throw new Error(`lease ${o.leaseId}: ${JSON.stringify(event)}`)
  }
}
