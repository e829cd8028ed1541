// `kaisar-node wallet`: the node's wallet address and balance on its ledger (local or peaq),
// read through the running node's API.
import { Command } from 'commander'
import { formatTokenAmount } from '../../../chain/amount.js'
import { getJson } from '../api-client.js'

interface WalletView { address: string, type: string, chain: string, symbol: string, decimals: number, free: string, locked: string, points: string, nonce: number }

export function walletCommand (): Command {
  return new Command('wallet')
    .description("show the node's wallet address and balance on its ledger")
    .option('--api <url>', 'node API URL (default http://127.0.0.1:7001, or KAISAR_API_URL)')
    .option('--json', 'print JSON (amounts in the smallest unit, as strings)')
    .action(async (opts: { api?: string, json?: boolean }) => {
      const w = await getJson<WalletView>(opts.api, '/api/v1/wallet')
      if (opts.json === true) { process.stdout.write(JSON.stringify(w) + '\n'); return }
      const fmt = (x: string): string => `${formatTokenAmount(BigInt(x), w.decimals)} ${w.symbol}`
      process.stdout.write(`address ${w.address} (${w.type})\nchain   ${w.chain}\nfree    ${fmt(w.free)}\nlocked  ${fmt(w.locked)}\npoints  ${w.points}\nnonce   ${w.nonce}\n`)
    })
}
