// Helpers for the Proof of Physical Work tests: a simulator cluster's popw settings, waiting
// for registrations and settlements, and reading settlement transactions off the host's chain.
import { pino } from 'pino'
import { waitFor } from './wait.js'
import type { Logger } from '../../node/log.js'
import type { LocalChain } from '../../chain/local/chain.js'
import type { Cluster } from '../../sim/cluster.js'
import type { KaisarNode } from '../../node/node.js'

/**
 * Short epochs for tests: a 3 s epoch (1.5 s of probes), small challenges, a deadline allowance
 * for a dozen nodes sharing one event loop, a small bandwidth probe.
 */
export function simPopw (epochMs = 3000, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { epochMs, k: 3, backups: 1, challengeMs: 20, challengeAllowanceMs: 600, bandwidthBytes: 64 * 1024, ...extra }
}

export function hostChain (cluster: Cluster): LocalChain {
  return (cluster.nodes[0] as { node: KaisarNode }).node.ledger as LocalChain
}

/** Every provider registered and every checker licensed on the ledger. */
export async function waitRegistered (cluster: Cluster, timeoutMs = 30_000): Promise<void> {
  const chain = hostChain(cluster)
  const providers = cluster.byRole('provider').length
  const checkers = cluster.byRole('checker').length
  await waitFor('registrations', async () => (await chain.providers()).length >= providers && (await chain.checkers()).length >= checkers, timeoutMs, 200)
}

/** The first epoch that starts after now (its seed block comes after every registration so far). */
export function nextEpoch (node: KaisarNode): number {
  const popw = node.popw
  if (popw == null) throw new Error('not a popw node')
  return popw.schedule.epochAt(Date.now()) + 1
}

export async function waitSettled (node: KaisarNode, epoch: number, timeoutMs: number): Promise<void> {
  await waitFor(`epoch ${epoch} settled at ${node.peerId.slice(-6)}`, () => (node.popw?.settledEpoch ?? -1) >= epoch && node.popw?.store.get(epoch).then(s => s != null), timeoutMs, 100)
}

/** settleEpoch transactions for `epoch` in the chain's blocks: applied, and refused (duplicates). */
export async function settlementTxs (chain: LocalChain, epoch: number): Promise<{ applied: number, refused: number }> {
  const head = (await chain.head()).height
  let applied = 0
  let refused = 0
  for (let h = 1; h <= head; h++) {
    const block = await chain.block(h)
    for (const hash of block?.txs ?? []) {
      const tx = await chain.transaction(hash)
      if (tx?.tx.call.kind !== 'settleEpoch' || tx.tx.call.epoch !== epoch) continue
      if (tx.error == null) applied++
      else refused++
    }
  }
  return { applied, refused }
}

/** Silent, unless KAISAR_TEST_LOG names a file: then every node's log goes there (debugging a sim test). */
export function testLogger (): Logger {
  const file = process.env.KAISAR_TEST_LOG
  return file == null || file === '' ? pino({ level: 'silent' }) : pino({ level: 'debug' }, pino.destination({ dest: file, sync: false }))
}
