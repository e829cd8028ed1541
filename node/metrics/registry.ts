// The node's Prometheus metrics, named `kaisar_<subsystem>_<name>` (Lodestar names
// its own `lodestar_<subsystem>_…`). libp2p's metrics register on the same registry.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export class NodeMetrics {
  readonly registry: Registry

  readonly gossipReceived: Counter<'topic'>
  readonly gossipRejected: Counter<'topic' | 'reason'>
  readonly gossipIgnored: Counter<'topic' | 'reason'>
  readonly gossipPublished: Counter<'topic'>
  readonly gossipPublishErrors: Counter<'topic'>
  readonly recordsRejected: Counter<'namespace' | 'reason'>
  readonly recordsPublished: Counter<'namespace'>
  readonly apiRequests: Counter<'route' | 'status'>
  readonly apiAuthRejected: Counter<'reason'>
  readonly peersConnected: Gauge<'role'>
  readonly providersOnline: Gauge
  /** Where providersOnline is read from at each scrape (the node's provider table, where it keeps one). */
  providersOnlineSource?: () => number
  readonly heartbeatsReceived: Counter
  readonly startupSeconds: Gauge
  readonly outboxSent: Counter<'kind' | 'result'>
  readonly leasesRefused: Counter<'reason'>
  readonly leasesStarted: Counter
  readonly leasesEnded: Counter<'reason'>
  readonly tunnelsRefused: Counter<'reason'>
  readonly tunnelsOpened: Counter
  readonly tunnelsActive: Gauge
  readonly splicesOpened: Counter
  readonly splicesRefused: Counter<'reason'>
  readonly splicesActive: Gauge
  readonly outboxPending: Gauge
  readonly apiRequestSeconds: Histogram<'route'>

  constructor (registry: Registry = new Registry()) {
    this.registry = registry
    collectDefaultMetrics({ register: registry, prefix: 'kaisar_process_' })
    const r = [registry]
    this.gossipReceived = new Counter({ name: 'kaisar_gossip_received_total', help: 'Gossip messages that passed validation, by topic', labelNames: ['topic'], registers: r })
    this.gossipRejected = new Counter({ name: 'kaisar_gossip_rejected_total', help: 'Gossip messages rejected by a topic validator (sender penalised), by topic and reason', labelNames: ['topic', 'reason'], registers: r })
    this.gossipIgnored = new Counter({ name: 'kaisar_gossip_ignored_total', help: 'Gossip messages ignored by a topic validator (not forwarded, sender not penalised)', labelNames: ['topic', 'reason'], registers: r })
    this.gossipPublished = new Counter({ name: 'kaisar_gossip_published_total', help: 'Gossip messages this node published, by topic', labelNames: ['topic'], registers: r })
    this.gossipPublishErrors = new Counter({ name: 'kaisar_gossip_publish_errors_total', help: 'Gossip publishes that failed, by topic', labelNames: ['topic'], registers: r })
    this.recordsRejected = new Counter({ name: 'kaisar_records_rejected_total', help: 'DHT records rejected by the validator, by namespace and reason', labelNames: ['namespace', 'reason'], registers: r })
    this.recordsPublished = new Counter({ name: 'kaisar_records_published_total', help: 'Signed records this node put into the DHT', labelNames: ['namespace'], registers: r })
    this.apiRequests = new Counter({ name: 'kaisar_api_requests_total', help: 'HTTP API requests, by route and status', labelNames: ['route', 'status'], registers: r })
    this.apiAuthRejected = new Counter({ name: 'kaisar_api_auth_rejected_total', help: 'API requests refused for a missing or bad wallet signature', labelNames: ['reason'], registers: r })
    this.apiRequestSeconds = new Histogram({ name: 'kaisar_api_request_seconds', help: 'HTTP API request duration', labelNames: ['route'], buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10], registers: r })
    this.peersConnected = new Gauge({ name: 'kaisar_network_peers_connected', help: 'Connected peers by the role they announce', labelNames: ['role'], registers: r })
    // Counted when scraped, not on a timer: the count walks the whole provider table, and a timer
    // did that every second on every checker (checkers × providers, the fastest-growing cost
    // in the simulator's 500-node profile after gossip).
    this.providersOnline = new Gauge({
      name: 'kaisar_providers_online',
      help: 'Providers whose heartbeats are current (gateways and checkers track this)',
      registers: r,
      collect: () => { if (this.providersOnlineSource != null) this.providersOnline.set(this.providersOnlineSource()) }
    })
    this.heartbeatsReceived = new Counter({ name: 'kaisar_heartbeats_received_total', help: 'Valid provider heartbeats received', registers: r })
    this.outboxSent = new Counter({ name: 'kaisar_outbox_sent_total', help: 'Ledger calls sent by the outbox, by call kind and result (settled, duplicate, failed, retry)', labelNames: ['kind', 'result'], registers: r })
    this.leasesRefused = new Counter({ name: 'kaisar_leases_refused_total', help: 'Lease requests refused before deploying, by reason', labelNames: ['reason'], registers: r })
    this.leasesStarted = new Counter({ name: 'kaisar_leases_started_total', help: 'Leases whose container was deployed', registers: r })
    this.leasesEnded = new Counter({ name: 'kaisar_leases_ended_total', help: 'Leases ended, by reason (cancelled, expired, failed)', labelNames: ['reason'], registers: r })
    this.tunnelsRefused = new Counter({ name: 'kaisar_tunnels_refused_total', help: 'Tunnel streams refused at open, by reason', labelNames: ['reason'], registers: r })
    this.tunnelsOpened = new Counter({ name: 'kaisar_tunnels_opened_total', help: 'Tunnel streams opened to a lease container', registers: r })
    this.tunnelsActive = new Gauge({ name: 'kaisar_tunnels_active', help: 'Tunnel streams open now', registers: r })
    this.splicesOpened = new Counter({ name: 'kaisar_splices_opened_total', help: 'Spliced relay connections paired by this gateway', registers: r })
    this.splicesRefused = new Counter({ name: 'kaisar_splices_refused_total', help: 'Splice requests and splice-port connections refused, by reason', labelNames: ['reason'], registers: r })
    this.splicesActive = new Gauge({ name: 'kaisar_splices_active', help: 'Spliced relay connections open now', registers: r })
    this.outboxPending = new Gauge({ name: 'kaisar_outbox_pending', help: 'Ledger calls waiting in the outbox', registers: r })
    this.startupSeconds = new Gauge({ name: 'kaisar_node_startup_seconds', help: 'Seconds from process start to the node being ready', registers: r })
  }
}
