#!/usr/bin/env node
// Runs the test tiers (unit, e2e, sim, ...) with uvu over the compiled tests in dist/test,
// one uvu process per tier, and ends with one summary line: "tests: N passed, N failed, N skipped".
// Usage: node scripts/run-tests.mjs [tier ...]   (default: every tier under dist/test)
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
// KAISAR_TEST_DIR: another tree of tiers (this script's own test runs it on a made-up one).
const testRoot = process.env.KAISAR_TEST_DIR ?? path.join(root, 'dist', 'test')
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js')
const ORDER = ['unit', 'e2e', 'docker', 'chain', 'sim', 'netns']

if (!fs.existsSync(testRoot)) {
  console.error('dist/test is missing: run `npm run build` first (npm test does)')
  process.exit(1)
}
const present = fs.readdirSync(testRoot).filter(d => fs.statSync(path.join(testRoot, d)).isDirectory() && d !== 'helpers')
const tiers = process.argv.length > 2 ? process.argv.slice(2) : ORDER.filter(t => present.includes(t)).concat(present.filter(t => !ORDER.includes(t)))

// The peaq tier needs a raw chain spec the project does not ship (KAISAR_PEAQ_SPEC). Without one,
// `npm test` does not run it and says so: its suites count as skipped, never as passed.
const env = { ...process.env, FORCE_COLOR: '0' }
if (env.KAISAR_PEAQ_SPEC == null && env.KAISAR_SKIP_PEAQ == null) env.KAISAR_SKIP_PEAQ = '1'

// The docker tier's files share one engine, started here before the tier and stopped after it:
// each file would otherwise start its own and stop it again (≈ 4 s a file, the test image rebuilt
// every time). A file that finds the engine running uses it and leaves it running, as it does an
// engine a developer started. If it cannot start here, each file tries and says why.
const ENGINE_SCRIPT = path.join(root, 'scripts', 'docker-engine.sh')
function startEngineForTier () {
  if (spawnSync(ENGINE_SCRIPT, ['status'], { stdio: 'ignore' }).status === 0) return false // someone else's: theirs to stop
  const started = spawnSync(ENGINE_SCRIPT, ['start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 })
  if (started.status !== 0) { console.log(`(the Docker engine did not start here; the files will say why)`); return false }
  console.log(`started the Docker engine for the tier: ${started.stdout.trim()}`)
  return true
}
function stopEngine () {
  const stopped = spawnSync(ENGINE_SCRIPT, ['stop'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
  if (stopped.status !== 0) console.error(`scripts/docker-engine.sh stop exited ${String(stopped.status)}:\n${stopped.stderr}`)
}

// The sim tier's files measure their own process (RSS per node against the RSS before the first
// node started), so each one runs in a fresh process: in a shared one, the garbage an earlier file
// left is freed during the next file's run and its nodes appear to cost nothing (CI saw −0.57 MiB).
const OWN_PROCESS_PER_FILE = new Set(['sim'])

/** A count from uvu's summary ("Total:", "Passed:", "Skipped:"), 0 when absent. */
function summaryCount (text, label) {
  return Number((new RegExp(`${label}:\\s+(\\d+)`).exec(text) ?? [])[1] ?? 0)
}

// A hung test would otherwise hold CI until its own limit, with nothing said about where. uvu
// prints a mark as each test ends, so a tier silent this long is stuck: it is killed and fails,
// naming the file it was in. The longest single test (a sim scenario) takes ≈ 4 minutes here.
const SILENCE_LIMIT_S = Number(env.KAISAR_TEST_SILENCE_S ?? 900)
// Each uvu process leads its own process group (so a hung one can be killed with its children);
// a Ctrl-C or kill of this script passes on to the group running.
let running
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (running != null) try { process.kill(-running.pid, signal) } catch {}
    process.exit(130)
  })
}

function runUvu (dir, pattern) {
  return new Promise(resolve => {
    let text = ''
    let hung = false
    const child = spawn(process.execPath, [uvu, dir, pattern, '--color', 'false'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env, detached: true })
    running = child
    let watchdog
    const rearm = () => {
      clearTimeout(watchdog)
      watchdog = setTimeout(() => {
        hung = true
        const file = [...text.matchAll(/^(\S+\.test\.js)$/gm)].at(-1)?.[1] ?? '(before the first file)'
        const said = `\nHUNG: no test ended in ${SILENCE_LIMIT_S} s; killed while in ${file} (KAISAR_TEST_SILENCE_S sets the limit)\n`
        text += said; process.stdout.write(said)
        // The whole group: a test's child processes (nodes, engines) go with it.
        try { process.kill(-child.pid, 'SIGKILL') } catch { child.kill('SIGKILL') }
      }, SILENCE_LIMIT_S * 1000)
    }
    rearm()
    child.stdout.on('data', d => { text += d; process.stdout.write(d); rearm() })
    child.on('exit', code => {
      clearTimeout(watchdog); running = undefined
      if (!hung) { resolve({ code, text }); return }
      // Killed before uvu's summary: the files' own "(passed / total)" lines count what ran, and
      // the hung test counts as one failure.
      const files = [...text.matchAll(/\((\d+) \/ (\d+)\)\s*$/gm)]
      const passed = files.reduce((n, m) => n + Number(m[1]), 0)
      const total = files.reduce((n, m) => n + Number(m[2]), 0) + 1
      resolve({ code: 1, text: `${text}\n  Total:     ${total}\n  Passed:    ${passed}\n  Skipped:   0\n` })
    })
  })
}

/** One uvu process per test file; the result reads like one uvu run (summed totals, the worst exit code). */
async function runEachFile (dir) {
  const files = fs.readdirSync(dir).filter(f => f.endsWith('.test.js')).sort()
  let text = ''; let code = 0
  const sums = { Total: 0, Passed: 0, Skipped: 0 }
  for (const file of files) {
    const out = await runUvu(dir, `^${file.replaceAll('.', '\\.')}$`)
    if (out.code !== 0) code = out.code ?? 1
    for (const label of Object.keys(sums)) sums[label] += summaryCount(out.text, label)
    // Each file's own summary is kept out of the tier's text, which ends with the summed one.
    text += out.text.replace(/^\s*(Total|Passed|Skipped|Duration):.*$/gm, '')
  }
  return { code, text: `${text}\n  Total:     ${sums.Total}\n  Passed:    ${sums.Passed}\n  Skipped:   ${sums.Skipped}\n` }
}

const totals = { passed: 0, failed: 0, skipped: 0 }
const notRun = []
let failedTiers = []
for (const tier of tiers) {
  const dir = path.join(testRoot, tier)
  if (!fs.existsSync(dir)) { console.error(`no such test tier: ${tier}`); failedTiers.push(tier); continue }
  console.log(`\n=== ${tier} ===`)
  const started = Date.now()
  const ownEngine = tier === 'docker' && startEngineForTier()
  const out = OWN_PROCESS_PER_FILE.has(tier) ? await runEachFile(dir) : await runUvu(dir, '\\.test\\.js$')
  if (ownEngine) stopEngine()
  const total = summaryCount(out.text, 'Total'); const passed = summaryCount(out.text, 'Passed'); const skipped = summaryCount(out.text, 'Skipped')
  const didNotRun = [...out.text.matchAll(/^(.*): DID NOT RUN \(skipped[^)]*\): (.*)$/gm)]
  totals.passed += passed; totals.skipped += skipped + didNotRun.length; totals.failed += total - passed - skipped
  for (const m of didNotRun) notRun.push(`${m[1]}: ${m[2]}`)
  if (out.code !== 0 || (total === 0 && didNotRun.length === 0)) {
    failedTiers.push(tier)
    if (out.code !== 0 && total === passed + skipped) totals.failed += 1 // crashed outside a test
  }
  console.log(`=== ${tier}: ${passed}/${total} passed in ${((Date.now() - started) / 1000).toFixed(1)} s ===`)
}
if (notRun.length > 0) console.log(`\ndid not run (counted as skipped, not passed):\n${notRun.map(l => `  ${l}`).join('\n')}`)
if (failedTiers.length > 0) console.log(`\nfailed tiers: ${failedTiers.join(', ')}`)
console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`)
process.exit(failedTiers.length > 0 ? 1 : 0)
