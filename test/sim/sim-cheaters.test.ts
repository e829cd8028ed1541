// Issue 7, done-when 2 (cheaters): the simulator's cheaters scenario at small scale. About 10 %
// of providers (here one of each kind: fake GPU class, slow, replaying, going offline) cheat;
// the report, built from the settled outcomes at the ledger host, must show ≥ 99 % of them
// caught and no honest provider failed.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { run as benchSim } from '../../bench/sim.js'
import { renderHtmlReport } from '../../sim/report-html.js'
import { runSim } from '../../sim/runner.js'
import { testLogger } from '../helpers/popw.js'

test('cheaters: ≥ 99 % of cheating providers caught, no honest provider failed', async () => {
  const r = await runSim({ scenario: 'cheaters', nodes: 16, seed: 11, durationMs: 20_000, dilation: 1, baseEpochMs: 5000, baseHeartbeatMs: 2000, logger: testLogger() })
  const why = JSON.stringify(r.outcomes.providers.filter(p => p.judged !== 'clean'))
  assert.ok(r.outcomes.cheatersTotal >= 4, `one cheater of each kind at least (${r.outcomes.cheatersTotal})`)
  assert.ok(r.outcomes.cheatersCaught / r.outcomes.cheatersTotal >= 0.99, `caught ${r.outcomes.cheatersCaught}/${r.outcomes.cheatersTotal}: ${why}`)
  assert.ok(r.outcomes.honestJudged >= 5, `honest providers with outcomes: ${r.outcomes.honestJudged}: ${why}`)
  assert.is(r.outcomes.honestFailed, 0, `honest failed: ${why}`)
  assert.ok(r.outcomes.epochs.filter(e => e.settled).length >= 3, `epochs settled: ${JSON.stringify(r.outcomes.epochs)}`)
  assert.ok(r.outcomes.epochs.reduce((n, e) => n + e.penalties, 0) >= r.outcomes.cheatersTotal, 'every caught cheater was penalised in a settlement')
  // The HTML report's per-node table (done-when 5): this run's RSS and CPU per node beside another run's.
  const html = await renderHtmlReport(r, [{ nodes: 500, dilation: 4, rssPerNodeMiB: 9.5, rssMaxMiB: 4750, cpuPerNodePct: 0.3 }])
  assert.ok(r.resources.cpuPerNodePct > 0 && r.resources.rssPerNodeMiB > 0, `resources measured: ${JSON.stringify(r.resources)}`)
  assert.ok(html.includes(`<tr><td>${r.nodes}</td><td>×1</td><td>${r.resources.rssPerNodeMiB}</td><td>${r.resources.rssMaxMiB}</td><td>${r.resources.cpuPerNodePct}</td></tr>`), 'this run\'s row')
  assert.ok(html.includes('<tr><td>500</td><td>×4</td><td>9.5</td><td>4750</td><td>0.3</td></tr>'), 'the other run\'s row')

  // `npm run bench -- sim --with FILE`: a run made earlier (`sim --full-json FILE`) joins the
  // bench's table and is judged by the same rules; a copy with an honest provider failed is not correct.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kaisar-bench-with-'))
  try {
    const good = path.join(dir, 'good.json')
    const bad = path.join(dir, 'bad.json')
    await fs.writeFile(good, JSON.stringify(r))
    await fs.writeFile(bad, JSON.stringify({ ...r, nodes: 17, outcomes: { ...r.outcomes, honestFailed: 1 } }))
    const joined = await benchSim(['--runs', 'none', '--with', `${good},${bad}`, '--out', dir])
    assert.equal(joined.per_node, [
      { nodes: 16, dilation: 1, rss_mib: r.resources.rssPerNodeMiB, cpu_pct: r.resources.cpuPerNodePct },
      { nodes: 17, dilation: 1, rss_mib: r.resources.rssPerNodeMiB, cpu_pct: r.resources.cpuPerNodePct }
    ])
    assert.is(joined.ok, false, 'one joined run failed an honest provider')
    const runs = joined.runs as Array<{ nodes: number, ok: boolean, why: string[] }>
    assert.equal(runs.map(x => [x.nodes, x.ok]), [[16, true], [17, false]])
    assert.match(runs[1]?.why.join() ?? '', /1 honest providers failed/)
    const html17 = await fs.readFile(path.join(dir, 'sim-cheaters-17.html'), 'utf8')
    assert.ok(html17.includes(`<tr><td>16</td><td>×1</td><td>${r.resources.rssPerNodeMiB}</td>`), 'each joined run\'s page tabulates the others')
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
})

test.run()
