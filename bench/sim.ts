// `npm run bench -- sim [--runs 300:1,1000:4] [--scenario steady] [--seed 1] [--duration D]
// [--epoch-ms MS] [--heartbeat-ms MS] [--start-rate N] [--shards N] [--gossip-mesh d=4,…]
// [--with REPORT.json,…] [--out DIR]`: the simulator at scale. Each run is `kaisar-node sim` in
// its own process (its own heap, its own RSS and CPU figures), given as NODES:DILATION
// (`--runs none` for no new run). `--with` joins runs made earlier by `kaisar-node sim …
// --full-json FILE` (a 1,000-node run takes an hour, too long to repeat beside the others); they
// are judged and tabulated like the bench's own. Writes each run's HTML report to DIR
// (bench/results), and fails (exit 1) when a run's correctness falls short: gossip delivery below
// 99.9 %, an honest provider failed, a cheater not caught, or a run that did not complete.
// Timing is reported, never judged.
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { renderHtmlReport, scalePointOf } from '../sim/report-html.js'
import { SIM_YOUNG_GENERATION_FLAGS } from '../sim/shard.js'
import { log } from './lib.js'
import { summary as summaryOf, type SimReport } from '../sim/runner.js'

function arg (args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

interface RunResult { nodes: number, dilation: number, ok: boolean, why: string[], wallS: number, exitCode: number | null, summary?: Record<string, unknown>, stderrTail: string }

const root = path.resolve(fileURLToPath(new URL('../..', import.meta.url)))

async function simProcess (argv: string[], timeoutMs: number): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    // A 1000-node process needs more heap than V8's default limit; its young generation is the
    // shard workers' (sim/shard.ts says why).
    const child = spawn(process.execPath, ['--max-old-space-size=16384', ...SIM_YOUNG_GENERATION_FLAGS, path.join(root, 'bin', 'kaisar-node.js'), 'sim', ...argv], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr += d; process.stderr.write(d) })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    child.on('exit', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

/** Correctness, not timing: what the run must get right at any dilation. */
export function correctness (s: Record<string, unknown>): string[] {
  const why: string[] = []
  const num = (k: string): number => Number(s[k])
  if (!(num('gossip_delivery') >= 0.999)) why.push(`gossip_delivery ${String(s.gossip_delivery)} < 0.999`)
  if (num('honest_failed') !== 0) why.push(`${String(s.honest_failed)} honest providers failed`)
  if (num('cheaters_caught') !== num('cheaters_total')) why.push(`cheaters caught ${String(s.cheaters_caught)}/${String(s.cheaters_total)}`)
  if (!(num('honest_judged') > 0)) why.push('no provider was judged at all')
  if (num('epochs_settled') !== num('epochs')) why.push(`epochs settled ${String(s.epochs_settled)}/${String(s.epochs)}`)
  return why
}

export async function run (args: string[]): Promise<Record<string, unknown>> {
  const runsArg = arg(args, '--runs') ?? '300:1,1000:4'
  const runs = runsArg === 'none' ? [] : runsArg.split(',').map(r => { const [n, d] = r.split(':'); return { nodes: Number(n), dilation: Number(d ?? 1) } })
  const scenario = arg(args, '--scenario') ?? 'steady'
  const seed = arg(args, '--seed') ?? '1'
  const duration = arg(args, '--duration')
  // Passed on to every run as given: the product's own intervals (--epoch-ms 60000
  // --heartbeat-ms 15000), a paced start, where the simulator's defaults are the devnet's, and
  // the processes to spread the nodes over (one per core: sim/shard.ts).
  const passed = ['--epoch-ms', '--heartbeat-ms', '--start-rate', '--shards', '--gossip-mesh'].flatMap(f => { const v = arg(args, f); return v != null ? [f, v] : [] })
  const outDir = arg(args, '--out') ?? path.join(root, 'bench', 'results')
  await fs.mkdir(outDir, { recursive: true })
  const results: RunResult[] = []
  const reports: SimReport[] = []
  for (const r of runs) {
    const full = path.join(os.tmpdir(), `kaisar-sim-${process.pid}-${r.nodes}.json`)
    const argv = ['--scenario', scenario, '--nodes', String(r.nodes), '--dilation', String(r.dilation), '--seed', seed, '--json', '--full-json', full, ...(duration != null ? ['--duration', duration] : []), ...passed]
    log(`sim ${argv.join(' ')}`)
    const t0 = performance.now()
    // Start-up (2 nodes/s), registration and the window grow with the nodes: an hour at 1,000.
    const out = await simProcess(argv, (45 + 0.1 * r.nodes) * 60_000)
    const wallS = Math.round((performance.now() - t0) / 100) / 10
    const last = out.stdout.trim().split('\n').pop() ?? ''
    let summary: Record<string, unknown> | undefined
    try { summary = JSON.parse(last) as Record<string, unknown> } catch {}
    const why = summary == null ? [`the run did not complete (exit ${String(out.code)})`] : correctness(summary)
    results.push({ nodes: r.nodes, dilation: r.dilation, ok: why.length === 0, why, wallS, exitCode: out.code, summary, stderrTail: out.stderr.split('\n').slice(-6).join('\n') })
    try { reports.push(JSON.parse(await fs.readFile(full, 'utf8')) as SimReport) } catch {}
    await fs.rm(full, { force: true })
    if (summary != null) log(last)
    log(`${r.nodes} nodes ×${r.dilation}: ${why.length === 0 ? 'correct' : why.join('; ')} (${wallS} s)`)
  }
  for (const file of (arg(args, '--with') ?? '').split(',').filter(f => f !== '')) {
    const report = JSON.parse(await fs.readFile(file, 'utf8')) as SimReport
    const summary = summaryOf(report)
    const why = correctness(summary)
    results.push({ nodes: report.nodes, dilation: report.dilation, ok: why.length === 0, why, wallS: report.wallS.total, exitCode: 0, summary, stderrTail: `from ${file}` })
    reports.push(report)
    log(`${report.nodes} nodes ×${report.dilation} (${file}): ${why.length === 0 ? 'correct' : why.join('; ')}`)
  }
  reports.sort((a, b) => a.nodes - b.nodes)
  const scale = reports.map(scalePointOf)
  for (const r of reports) await fs.writeFile(path.join(outDir, `sim-${r.scenario}-${r.nodes}.html`), await renderHtmlReport(r, scale))
  return { ok: results.every(r => r.ok), scenario, seed: Number(seed), flags: passed.join(' '), runs: results, per_node: scale.map(p => ({ nodes: p.nodes, dilation: p.dilation, rss_mib: p.rssPerNodeMiB, cpu_pct: p.cpuPerNodePct })) }
}
