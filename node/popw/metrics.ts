// Proof of Physical Work metrics, `kaisar_popw_*`, on the node's registry. Gossip validation
// (kaisar_gossip_rejected_total{topic="kaisar/popw/1",reason}) is counted by the gossip service.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export class PopwMetrics {
  readonly outcomes: Counter<'result'>
  readonly settlements: Counter<'how'>
  readonly settledEpoch: Gauge
  readonly settleLatency: Histogram
  readonly verdicts: Counter<'result'>
  readonly probeSeconds: Histogram<'probe'>
  readonly challengesServed: Counter<'result'>
  readonly laggedProbes: Counter
  readonly providerDials: Counter<'via'>
  readonly probeRetries: Counter<'probe'>

  constructor (registry: Registry) {
    const r = [registry]
    this.outcomes = new Counter({ name: 'kaisar_popw_outcomes_total', help: 'Settled outcomes seen by this node, by result', labelNames: ['result'], registers: r })
    this.settlements = new Counter({ name: 'kaisar_popw_settlements_total', help: 'Epoch settlements seen: matched (our outcomes had the settled root), fetched (taken from the submitter and verified), disputed (did not verify), submitted (by this checker)', labelNames: ['how'], registers: r })
    this.settledEpoch = new Gauge({ name: 'kaisar_popw_settled_epoch', help: 'The latest epoch whose settlement this node holds', registers: r })
    this.settleLatency = new Histogram({ name: 'kaisar_popw_settle_latency_seconds', help: 'From an epoch\'s end to this node seeing its settlement', buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 120], registers: r })
    this.verdicts = new Counter({ name: 'kaisar_popw_verdicts_total', help: 'Verdicts this checker signed, by result', labelNames: ['result'], registers: r })
    this.probeSeconds = new Histogram({ name: 'kaisar_popw_probe_seconds', help: 'Duration of this checker\'s probes, by probe', labelNames: ['probe'], buckets: [0.005, 0.02, 0.1, 0.5, 2, 10], registers: r })
    this.laggedProbes = new Counter({ name: 'kaisar_popw_probes_lagged_total', help: 'Probes this checker abstained on because its own event loop stalled during them and every failure was timed', registers: r })
    this.providerDials = new Counter({ name: 'kaisar_popw_provider_dials_total', help: 'Dials of a provider this checker had no connection to, by where the address came from: heartbeat (its last heartbeat), libp2p (the peer store, or libp2p\'s own DHT walk for the peer), record (its signed record from the DHT, after that failed)', labelNames: ['via'], registers: r })
    this.probeRetries = new Counter({ name: 'kaisar_popw_probe_retries_total', help: 'Probe steps this checker tried a second time after the first try failed (a provider that is down fails both), by probe', labelNames: ['probe'], registers: r })
    this.challengesServed = new Counter({ name: 'kaisar_popw_challenges_served_total', help: 'Seeded challenges this provider answered, by result', labelNames: ['result'], registers: r })
  }
}
