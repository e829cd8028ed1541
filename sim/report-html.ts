// The simulator's HTML report: one self-contained file (uPlot's script and stylesheet inlined
// from node_modules, no CDN), with the headline figures, the degradations, and plots of the
// latency distributions, per-epoch outcomes, memory against node count and the orders.
import fs from 'node:fs/promises'
import path from 'node:path'
import { createRequire } from 'node:module'
import { summary, type SimReport } from './runner.js'

/** Other runs to plot memory against node count across sizes (the bench passes its runs). */
export interface ScalePoint { nodes: number, rssPerNodeMiB: number, rssMaxMiB: number, cpuPerNodePct: number, dilation: number }

async function uplotAssets (): Promise<{ js: string, css: string }> {
  const dist = path.dirname(createRequire(import.meta.url).resolve('uplot'))
  return { js: await fs.readFile(path.join(dist, 'uPlot.iife.min.js'), 'utf8'), css: await fs.readFile(path.join(dist, 'uPlot.min.css'), 'utf8') }
}

/** x: value, y: fraction of samples ≤ x; at most `points` points. */
export function cdf (values: number[], points = 400): [number[], number[]] {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (sorted.length === 0) return [[], []]
  const step = Math.max(1, Math.floor(sorted.length / points))
  const xs: number[] = []
  const ys: number[] = []
  for (let i = step - 1; i < sorted.length; i += step) { xs.push(sorted[i] as number); ys.push((i + 1) / sorted.length) }
  if (xs[xs.length - 1] !== sorted[sorted.length - 1]) { xs.push(sorted[sorted.length - 1] as number); ys.push(1) }
  return [xs, ys]
}

const esc = (s: string): string => s.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string)
/** JSON inside a <script>: no "</script>" can close it early. */
const data = (x: unknown): string => JSON.stringify(x).replace(/</g, '\\u003c')

/** One run's point on the scale plots: its own RSS and CPU per node. */
export function scalePointOf (r: SimReport): ScalePoint {
  return { nodes: r.nodes, rssPerNodeMiB: r.resources.rssPerNodeMiB, rssMaxMiB: r.resources.rssMaxMiB, cpuPerNodePct: r.resources.cpuPerNodePct, dilation: r.dilation }
}

export async function renderHtmlReport (r: SimReport, scale: ScalePoint[] = []): Promise<string> {
  const { js, css } = await uplotAssets()
  const head = summary(r)
  const rows = Object.entries(head).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'object' ? JSON.stringify(v) : String(v))}</td></tr>`).join('')
  const degraded = r.degraded.length === 0 ? '<p class="ok">nothing degraded</p>' : `<ul>${r.degraded.map(d => `<li>${esc(d)}</li>`).join('')}</ul>`
  const providers = r.outcomes.providers.filter(p => p.behaviour !== 'honest' || p.judged !== 'clean')
  const providerRows = providers.map(p => `<tr><td>${esc(p.id)}</td><td>${esc(p.behaviour)}</td><td>${p.passes}</td><td>${p.fails}</td><td>${esc(p.judged)}</td></tr>`).join('')
  const scalePoints = [...scale, ...(scale.some(s => s.nodes === r.nodes) ? [] : [scalePointOf(r)])].sort((a, b) => a.nodes - b.nodes)
  const scaleRows = scalePoints.map(s => `<tr><td>${s.nodes}</td><td>×${s.dilation}</td><td>${s.rssPerNodeMiB}</td><td>${s.rssMaxMiB}</td><td>${s.cpuPerNodePct}</td></tr>`).join('')
  const plots = {
    gossip: cdf(r.gossip.latenciesMs),
    dht: cdf(r.dht.results.filter(d => d.ok).map(d => d.ms)),
    deploy: cdf(r.orders.results.filter(o => o.ok).map(o => o.ms)),
    epochs: [r.outcomes.epochs.map(e => e.epoch), r.outcomes.epochs.map(e => e.pass), r.outcomes.epochs.map(e => e.fail), r.outcomes.epochs.map(e => e.penalties)],
    startup: [r.resources.startup.map(s => s.nodes), r.resources.startup.map(s => s.rssMiB)],
    scale: [scalePoints.map(s => s.nodes), scalePoints.map(s => s.rssMaxMiB)],
    perNode: [scalePoints.map(s => s.nodes), scalePoints.map(s => s.rssPerNodeMiB), scalePoints.map(s => s.cpuPerNodePct)],
    orders: [r.orders.results.map(o => o.at / 1000), r.orders.results.map(o => o.ok ? o.ms : null)]
  }
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>kaisar-node sim: ${esc(r.scenario)}, ${r.nodes} nodes, seed ${r.seed}</title>
<style>${css}
body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}
.ok{color:#080}.plots{display:grid;grid-template-columns:1fr 1fr;gap:1em}h2{margin-top:1.5em}</style>
<script>${js}</script></head><body>
<h1>kaisar-node sim — ${esc(r.scenario)}, ${r.nodes} nodes</h1>
<p>Seed ${r.seed} (schedule ${esc(r.scheduleHash.slice(0, 16))}…, ${r.events} events), time dilation <b>×${r.dilation}</b>
(epochs ${r.epochMs} ms, heartbeats ${r.heartbeatMs} ms), measured window ${(r.durationMs / 1000).toFixed(0)} s, ${r.users} user node(s),
${r.shards} process${r.shards > 1 ? 'es' : ''} over ${r.transport}: ${r.resources.processes.map(p => `shard ${p.shard} ${p.nodes} nodes, ${p.cpuCores} cores, ${p.rssMaxMiB} MiB, loop lag p99 ${p.loopP99Ms} ms`).join('; ')}.</p>
<h2>What degraded</h2>${degraded}
<h2>Figures</h2><table>${rows}</table>
<h2>Per node against node count (runs)</h2>
<table><tr><th>nodes</th><th>dilation</th><th>RSS per node MiB</th><th>max RSS MiB</th><th>CPU per node % of a core</th></tr>${scaleRows}</table>
<h2>Plots</h2><div class="plots" id="plots"></div>
<h2>Providers not simply honest-and-passing</h2>
<table><tr><th>provider</th><th>behaviour</th><th>passes</th><th>fails</th><th>judged</th></tr>${providerRows}</table>
<script>
const D = ${data(plots)};
const host = document.getElementById('plots');
function plot (title, xLabel, yLabel, dataSets, series, opts) {
  const div = document.createElement('div'); host.appendChild(div);
  new uPlot(Object.assign({ title, width: 520, height: 300, scales: { x: { time: false } },
    axes: [{ label: xLabel }, { label: yLabel }], series: [{ label: xLabel }].concat(series) }, opts || {}), dataSets, div);
}
const line = (label, stroke) => ({ label, stroke, width: 2 });
const dots = (label, stroke) => ({ label, stroke, width: 0, points: { show: true, size: 6, fill: stroke } });
plot('gossip (heartbeat) latency, CDF', 'ms', 'fraction ≤ x', D.gossip, [line('delivered', '#c33')]);
plot('DHT record lookup latency, CDF', 'ms', 'fraction ≤ x', D.dht, [line('found', '#36c')]);
plot('order → deployed, CDF', 'ms', 'fraction ≤ x', D.deploy, [line('deployed', '#383')]);
plot('outcomes per epoch', 'epoch', 'outcomes', D.epochs, [dots('pass', '#383'), dots('fail', '#c33'), dots('penalties', '#a60')]);
plot('memory against node count (start-up)', 'nodes started', 'RSS MiB', D.startup, [line('RSS', '#639')]);
plot('memory against node count (runs)', 'nodes', 'max RSS MiB', D.scale, [dots('max RSS', '#639')]);
plot('per node against node count (runs)', 'nodes', 'MiB / % of a core', D.perNode, [dots('RSS per node MiB', '#639'), dots('CPU per node %', '#c60')]);
plot('orders over the run', 's into the window', 'ms to deployed', D.orders, [dots('deployed', '#383')]);
</script></body></html>
`
}
