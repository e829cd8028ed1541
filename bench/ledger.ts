// `npm run bench -- ledger [--txs N]`: the local ledger's throughput (transfers per second,
// in process and through /kaisar/ledger/1.0.0 between two processes' worth of libp2p nodes),
// and what one settled epoch costs the chain for 10, 100 and 1,000 outcomes: transactions
// and bytes, which must not grow with the number of outcomes.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { cryptoWaitReady, blake2AsHex } from '@polkadot/util-crypto'
import { MemoryLevel } from 'memory-level'
import { pino } from 'pino'
import { LocalChain, UNIT } from '../chain/local/chain.js'
import { canonicalJson, signTx } from '../chain/local/codec.js'
import { LedgerServer, RemoteLedger } from '../chain/local/protocol.js'
import { FastEd25519Signer } from '../node/identity/signer.js'
import { benchNode, log, round } from './lib.js'
import type { Hex, Ledger, LedgerCall } from '../chain/ledger.js'
import type { StateDb } from '../node/store/state-db.js'

function arg (args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}

const memDb = (): StateDb => new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })

/** Transfers per second through `ledger` from 10 senders, all sent at once. */
async function transfersPerSecond (ledger: Ledger, count: number): Promise<number> {
  const senders = [...Array(10).keys()].map(() => FastEd25519Signer.random())
  for (const s of senders) await ledger.submit(s, { kind: 'faucet', amount: 10_000n * UNIT })
  const to = FastEd25519Signer.random().address
  const t0 = performance.now()
  const sends: Array<Promise<unknown>> = []
  for (let i = 0; i < count; i++) sends.push(ledger.submit(senders[i % 10] as FastEd25519Signer, { kind: 'transfer', to, amount: 1n }))
  const results = await Promise.allSettled(sends)
  const seconds = (performance.now() - t0) / 1000
  const failed = results.filter(r => r.status === 'rejected').length
  if (failed > 0) throw new Error(`${failed} transfers failed`)
  return count / seconds
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  await cryptoWaitReady()
  const txs = arg(args, '--txs', 10_000)
  const hostKey = await generateKeyPair('Ed25519')

  log(`in-process: ${txs} transfers`)
  const chain = await LocalChain.open(memDb(), { hostKey, idleBlockMs: 1000 })
  const inProcessTps = await transfersPerSecond(chain, txs)

  log(`over /kaisar/ledger/1.0.0 (two libp2p nodes, TCP + Noise + Yamux): ${Math.min(txs, 5000)} transfers`)
  const host = await benchNode()
  const server = new LedgerServer({ libp2p: host, chain, logger: pino({ level: 'silent' }) })
  await server.start()
  const client = await benchNode()
  const remote = new RemoteLedger(client, { host: host.getMultiaddrs()[0] as NonNullable<ReturnType<typeof host.getMultiaddrs>[number]> })
  const remoteTps = await transfersPerSecond(remote, Math.min(txs, 5000))
  await client.stop()
  await server.stop()
  await host.stop()

  // One settlement per epoch: the root of the epoch's outcomes plus transfers to the checkers
  // (a fixed set) — the outcomes themselves stay off chain, provable against the root.
  const checker = FastEd25519Signer.random()
  await chain.submit(checker, { kind: 'faucet', amount: 1000n * UNIT })
  await chain.submit(checker, { kind: 'licenseChecker', peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(), stake: 50n * UNIT })
  const checkers = [...Array(50).keys()].map(() => FastEd25519Signer.random().address)
  const settlement: Record<string, { txs: number, bytes: number }> = {}
  for (const [epoch, outcomes] of [[1, 10], [2, 100], [3, 1000]] as const) {
    const leaves = [...Array(outcomes).keys()].map(i => blake2AsHex(`outcome/${epoch}/${i}`, 256))
    const root = blake2AsHex(leaves.join(''), 256) as Hex
    const call: LedgerCall = { kind: 'settleEpoch', epoch, outcomeRoot: root, outcomeCount: outcomes, rewards: checkers.map(to => ({ to, amount: UNIT })), penalties: [], points: [] }
    const before = (await chain.head()).height
    const nonce = await chain.nextNonce(checker.address)
    const tx = signTx(checker, chain.genesisHash, nonce, call)
    await chain.submitSigned(tx)
    const after = await chain.head()
    let count = 0
    for (let h = before + 1; h <= after.height; h++) count += (await chain.block(h))?.txs.length ?? 0
    settlement[String(outcomes)] = { txs: count, bytes: Buffer.byteLength(canonicalJson(tx)) }
  }
  await chain.close()
  return {
    local_tps_in_process: round(inProcessTps, 0),
    local_tps_over_libp2p: round(remoteTps, 0),
    transfers: txs,
    settlement_per_epoch: settlement,
    // Only the digits of outcomeCount differ between the three: a few bytes, not a factor of 100.
    settlement_bytes_spread: Math.max(...Object.values(settlement).map(s => s.bytes)) - Math.min(...Object.values(settlement).map(s => s.bytes)),
    note: 'per epoch: 1 transaction; its size follows the checkers rewarded (50 here), penalties and points, not the number of outcomes'
  }
}
