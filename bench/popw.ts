// `npm run bench -- popw [--providers 100] [--checkers 10] [--k 3] [--epoch-ms 15000] [--epochs 3]`:
// Proof of Physical Work among real nodes in one process (memory transport): every provider
// checked by k checkers each epoch (+1 backup), commit and reveal on kaisar/popw/1, one
// settlement per epoch. Reports the time from an epoch's end to its settled outcomes (the
// settlement transaction in a block, and the outcomes adopted by the gateway), and the gossip
// the epoch cost on kaisar/popw/1: bytes published (each commit/reveal once) and bytes delivered
// (summed over every node that received them).
import { pino } from 'pino'
import { TOPICS } from '../protocols/ids.js'
import { VerdictResult } from '../protocols/popw/popw.js'
import { Cluster, type ClusterNodeSpec } from '../sim/cluster.js'
import { simulatedInventory } from '../sim/hardware.js'
import { log, percentile, round } from './lib.js'
import type { LocalChain } from '../chain/local/chain.js'
import type { KaisarNode } from '../node/node.js'

function arg (args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const providers = arg(args, '--providers', 100)
  const checkers = arg(args, '--checkers', 10)
  const k = arg(args, '--k', 3)
  const epochMs = arg(args, '--epoch-ms', 15_000)
  const epochs = arg(args, '--epochs', 3)
  // A hundred providers on one core: small challenges and bandwidth probes, a wide deadline allowance.
  const popw = { epochMs, k, backups: 1, challengeMs: 10, challengeAllowanceMs: 3000, bandwidthBytes: 16 * 1024 }
  const cpu = simulatedInventory([])
  const nodes: ClusterNodeSpec[] = [
    { role: 'gateway', config: { popw } },
    ...[...Array(providers).keys()].map(() => ({ role: 'provider' as const, inventory: cpu, config: { popw, network: { dhtServer: false } } })),
    ...[...Array(checkers).keys()].map(() => ({ role: 'checker' as const, config: { popw } }))
  ]
  log(`starting ${nodes.length} nodes (1 gateway, ${providers} providers, ${checkers} checkers, k = ${k}, epochs of ${epochMs} ms)`)
  const t0 = performance.now()
  // KAISAR_BENCH_LOG=file: every node's warnings there (why an epoch went wrong).
  const logFile = process.env.KAISAR_BENCH_LOG
  const logger = logFile != null && logFile !== '' ? pino({ level: 'info' }, pino.destination({ dest: logFile, sync: false })) : undefined
  const cluster = await Cluster.start({ nodes, heartbeatMs: 30_000, startConcurrency: 16, logger })
  const startS = (performance.now() - t0) / 1000
  try {
    const gateway = (cluster.nodes[0] as { node: KaisarNode }).node
    const chain = gateway.ledger as LocalChain
    const popwSvc = gateway.popw
    if (popwSvc == null) throw new Error('the gateway follows no epochs')
    log('waiting for every registration')
    const t1 = performance.now()
    while ((await chain.providers()).length < providers || (await chain.checkers()).length < checkers) {
      if (performance.now() - t1 > 300_000) throw new Error('registrations did not complete in 300 s')
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    const registerS = (performance.now() - t1) / 1000

    // Gossip on kaisar/popw/1, per epoch: every node's deliveries, and each message once.
    const delivered = new Map<number, number>()
    const published = new Map<number, number>()
    const seen = new Set<string>()
    for (const n of cluster.nodes) {
      n.node.libp2p.services.pubsub.addEventListener('gossipsub:message', evt => {
        const { msg, msgId } = evt.detail
        if (msg.topic !== TOPICS.popw) return
        const epoch = popwSvc.schedule.epochAt(Date.now() - popwSvc.schedule.graceMs - 1)
        delivered.set(epoch, (delivered.get(epoch) ?? 0) + msg.data.byteLength)
        if (!seen.has(msgId)) { seen.add(msgId); published.set(epoch, (published.get(epoch) ?? 0) + msg.data.byteLength) }
      })
    }

    // One epoch of warm-up (first dials, first contexts), then the measured epochs.
    const first = popwSvc.schedule.epochAt(Date.now()) + 2
    const last = first + epochs - 1
    log(`measuring epochs ${first}..${last}`)
    const adopted = new Map<number, number>()
    const deadline = popwSvc.schedule.times(last).end + 4 * epochMs
    while (Date.now() < deadline && !(adopted.has(last))) {
      for (let e = first; e <= last; e++) {
        if (!adopted.has(e) && await popwSvc.store.get(e) != null) adopted.set(e, Date.now())
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    const rows = []
    for (let e = first; e <= last; e++) {
      const end = popwSvc.schedule.times(e).end
      const s = await chain.settlement(e)
      const block = s != null ? await chain.block(s.height) : undefined
      const settled = await popwSvc.store.get(e)
      rows.push({
        epoch: e,
        outcomes: settled?.outcomes.length ?? 0,
        passing: settled?.outcomes.filter(o => o.result === VerdictResult.PASS).length ?? 0,
        txMs: block != null ? block.timestamp - end : NaN,
        adoptedMs: adopted.has(e) ? (adopted.get(e) as number) - end : NaN,
        publishedBytes: published.get(e) ?? 0,
        deliveredBytes: delivered.get(e) ?? 0
      })
    }
    for (const r of rows) log(JSON.stringify(r))
    const sorted = (xs: number[]): number[] => xs.filter(Number.isFinite).sort((a, b) => a - b)
    const tx = sorted(rows.map(r => r.txMs))
    const adoptedMs = sorted(rows.map(r => r.adoptedMs))
    return {
      providers,
      checkers,
      k,
      epoch_ms: epochMs,
      epochs_measured: rows.length,
      epochs_settled: rows.filter(r => r.outcomes > 0).length,
      outcomes_per_epoch: round(rows.reduce((s, r) => s + r.outcomes, 0) / rows.length, 1),
      passing_per_epoch: round(rows.reduce((s, r) => s + r.passing, 0) / rows.length, 1),
      settle_tx_after_epoch_end_p50_ms: round(percentile(tx, 50), 0),
      settle_tx_after_epoch_end_max_ms: round(tx[tx.length - 1] ?? NaN, 0),
      outcomes_settled_at_gateway_p50_ms: round(percentile(adoptedMs, 50), 0),
      outcomes_settled_at_gateway_max_ms: round(adoptedMs[adoptedMs.length - 1] ?? NaN, 0),
      popw_gossip_published_bytes_per_epoch: Math.round(rows.reduce((s, r) => s + r.publishedBytes, 0) / rows.length),
      popw_gossip_delivered_bytes_per_epoch: Math.round(rows.reduce((s, r) => s + r.deliveredBytes, 0) / rows.length),
      cluster_start_s: round(startS, 1),
      registrations_s: round(registerS, 1),
      rss_mib: round(process.memoryUsage().rss / 2 ** 20, 0)
    }
  } finally {
    await cluster.stop()
  }
}
