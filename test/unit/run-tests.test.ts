// The test runner (scripts/run-tests.mjs) on a made-up tree of tiers: a tier whose test hangs is
// killed after KAISAR_TEST_SILENCE_S without a test ending, fails naming the file it was in, and
// the tiers after it still run; a tier that passes is counted as passed.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { tempDir } from '../helpers/tmp.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const uvuUrl = pathToFileURL(path.join(root, 'node_modules', 'uvu', 'dist', 'index.mjs')).href

function testFile (body: string): string {
  return `import { test } from ${JSON.stringify(uvuUrl)}\n${body}\ntest.run()\n`
}

async function runTests (dir: string, env: Record<string, string>): Promise<{ code: number | null, out: string }> {
  return await new Promise(resolve => {
    const child = spawn(process.execPath, [path.join(root, 'scripts', 'run-tests.mjs'), 'a-hang', 'b-pass'], { env: { ...process.env, ...env, KAISAR_TEST_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', d => { out += String(d) })
    child.stderr.on('data', d => { out += String(d) })
    child.on('exit', code => { resolve({ code, out }) })
  })
}

test('a hung tier is killed after the silence limit and fails naming its file; the next tier runs', async () => {
  const dir = await tempDir('run-tests-')
  try {
    fs.mkdirSync(path.join(dir, 'a-hang')); fs.mkdirSync(path.join(dir, 'b-pass'))
    fs.writeFileSync(path.join(dir, 'a-hang', 'first.test.js'), testFile("test('ends', () => {})"))
    // Never settles, and keeps the process alive as a stuck socket or timer would.
    fs.writeFileSync(path.join(dir, 'a-hang', 'stuck.test.js'), testFile("test('never ends', async () => { setInterval(() => {}, 1000); await new Promise(() => {}) })"))
    fs.writeFileSync(path.join(dir, 'b-pass', 'ok.test.js'), testFile("test('passes', () => {})"))
    const started = Date.now()
    const { code, out } = await runTests(dir, { KAISAR_TEST_SILENCE_S: '2' })
    assert.is(code, 1, out)
    assert.match(out, /HUNG: no test ended in 2 s; killed while in stuck\.test\.js/)
    assert.match(out, /=== b-pass: 1\/1 passed/)
    assert.match(out, /failed tiers: a-hang\n/)
    assert.match(out, /tests: 2 passed, 1 failed, 0 skipped/)
    assert.ok(Date.now() - started < 30_000, 'killed, not left to run')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
