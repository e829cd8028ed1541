// Routes about money: the node's wallet on its ledger, and the ledger's head.
import { HttpError, type Router } from '../router.js'
import type { KaisarNode } from '../../node.js'

export function ledgerRoutes (r: Router, node: KaisarNode): void {
  r.get('/api/v1/wallet', async () => {
    const account = await node.ledger.account(node.identity.wallet.address)
    return { ...account, type: node.identity.wallet.type, chain: node.config.chain, symbol: node.ledger.symbol, decimals: node.ledger.decimals }
  })
  r.get('/api/v1/ledger/escrow/:lease', async ({ params }) => {
    const escrow = await node.ledger.escrow(params.lease ?? '')
    if (escrow == null) throw new HttpError(404, `no escrow for lease ${params.lease ?? ''}`)
    return escrow
  })
  r.get('/api/v1/ledger/account/:address', async ({ params }) => await node.ledger.account(params.address ?? ''))
  r.get('/api/v1/ledger', async () => ({
    kind: node.ledger.kind,
    chain: node.config.chain,
    symbol: node.ledger.symbol,
    decimals: node.ledger.decimals,
    head: await node.ledger.head(),
    outboxPending: node.outbox.pending()
  }))
}
