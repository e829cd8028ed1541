#!/usr/bin/env node
// Runs the test tiers (unit, e2e, sim, ...) with uvu over the compiled tests in dist/test,
// one uvu process per tier, and ends with one summary line: "tests: N passed, N failed, N skipped".
// Usage: node scripts/run-tests.mjs [tier ...]   (default: every tier under dist/test)
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const testRoot = path.join(root, 'dist', 'test')
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js')
const ORDER = ['unit', 'e2e', 'docker', 'chain', 'sim']

if (!fs.existsSync(testRoot)) {
  console.error('dist/test is missing: run `npm run build` first (npm test does)')
  process.exit(1)
}
const present = fs.readdirSync(testRoot).filter(d => fs.statSync(path.join(testRoot, d)).isDirectory() && d !== 'helpers')
const tiers = process.argv.length > 2 ? process.argv.slice(2) : ORDER.filter(t => present.includes(t)).concat(present.filter(t => !ORDER.includes(t)))

const totals = { passed: 0, failed: 0, skipped: 0 }
let failedTiers = []
for (const tier of tiers) {
  const dir = path.join(testRoot, tier)
  if (!fs.existsSync(dir)) { console.error(`no such test tier: ${tier}`); failedTiers.push(tier); continue }
  console.log(`\n=== ${tier} ===`)
  const started = Date.now()
  const out = await new Promise(resolve => {
    let text = ''
    const child = spawn(process.execPath, [uvu, dir, '\\.test\\.js$', '--color', 'false'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FORCE_COLOR: '0' } })
    child.stdout.on('data', d => { text += d; process.stdout.write(d) })
    child.on('exit', code => { resolve({ code, text }) })
  })
  const num = (label) => Number((new RegExp(`${label}:\\s+(\\d+)`).exec(out.text) ?? [])[1] ?? 0)
  const total = num('Total'); const passed = num('Passed'); const skipped = num('Skipped')
  totals.passed += passed; totals.skipped += skipped; totals.failed += total - passed - skipped
  if (out.code !== 0 || total === 0) {
    failedTiers.push(tier)
    if (out.code !== 0 && total === passed + skipped) totals.failed += 1 // crashed outside a test
  }
  console.log(`=== ${tier}: ${passed}/${total} passed in ${((Date.now() - started) / 1000).toFixed(1)} s ===`)
}
if (failedTiers.length > 0) console.log(`\nfailed tiers: ${failedTiers.join(', ')}`)
console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`)
process.exit(failedTiers.length > 0 ? 1 : 0)
