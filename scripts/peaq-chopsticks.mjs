#!/usr/bin/env node
// Runs a real peaq runtime offline: @acala-network/chopsticks in --genesis mode (a new chain from
// a raw chain spec, not a fork of a live one), Instant block building (one block per submitted
// extrinsic), listening on loopback only. Prints the ws URL on stdout once the RPC answers, then
// stays in the foreground; SIGINT/SIGTERM stop chopsticks and this script.
//
// Usage: node scripts/peaq-chopsticks.mjs [--spec FILE] [--port N] [--import-storage FILE]
//                                         [--build-block-mode Instant|Batch|Manual]
//   --spec            raw chain spec (default: $KAISAR_PEAQ_SPEC). The project does not ship one:
//                     take node/src/chain-specs/peaq-raw.json from peaqnetwork/peaq-network-node.
//   --port            0 (default) = a free port chosen by the OS. A given port must be free: chopsticks
//                     itself would silently move to the next one, this script refuses instead.
//   --import-storage  chopsticks storage overrides (YAML/JSON) applied to the head at start.
//
// The chain lives in memory and ends with the process. chopsticks can keep blocks in SQLite
// (--db, through the native `sqlite3` addon) and --resume from them, but not for a --genesis chain
// (1.5.1): each start builds block #1 afresh over the saved one, the resumed state loses that
// block's writes (System.BlockHash(0) among them) and every signed transaction is then refused
// with `1010 badProof`. So there is no --db here, and nothing native is loaded.
//
// Offline by construction: no --endpoint (genesis mode never forks a live chain), configs are never
// given by bare name (chopsticks would fetch those from GitHub), plugins are disabled, and HTTP(S)
// proxies point at a closed loopback port so any HTTP request chopsticks might still attempt fails at
// once instead of leaving the machine. chopsticks runs in its own temp dir so that a stray `.env`
// in the caller's directory (it loads one) cannot change its settings.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const READY_TIMEOUT_MS = 120_000

function fail (message, code = 2) {
  process.stderr.write(`peaq-chopsticks: ${message}\n`)
  process.exit(code)
}

function parseArgs (argv) {
  const opts = { spec: process.env.KAISAR_PEAQ_SPEC, port: 0, importStorage: undefined, buildBlockMode: 'Instant' }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) fail(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case '--spec': opts.spec = value(); break
      case '--port': opts.port = Number(value()); break
      case '--import-storage': opts.importStorage = value(); break
      case '--build-block-mode': opts.buildBlockMode = value(); break
      case '-h': case '--help':
        process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 14).map(l => l.replace(/^\/\/ ?/, '')).join('\n') + '\n')
        process.exit(0)
        break
      default: fail(`unknown option ${flag} (see --help)`)
    }
  }
  if (opts.spec == null || opts.spec === '') fail('no chain spec: pass --spec FILE or set KAISAR_PEAQ_SPEC (a raw peaq spec, e.g. peaq-raw.json from peaqnetwork/peaq-network-node, node/src/chain-specs/)')
  opts.spec = path.resolve(opts.spec)
  if (!fs.existsSync(opts.spec) || !fs.statSync(opts.spec).isFile()) fail(`chain spec ${opts.spec} does not exist`)
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) fail(`--port: not a port number: ${opts.port}`)
  if (!['Instant', 'Batch', 'Manual'].includes(opts.buildBlockMode)) fail(`--build-block-mode: one of Instant, Batch, Manual (got ${opts.buildBlockMode})`)
  if (opts.importStorage != null) {
    opts.importStorage = path.resolve(opts.importStorage)
    if (!fs.existsSync(opts.importStorage)) fail(`--import-storage: ${opts.importStorage} does not exist`)
  }
  return opts
}

const opts = parseArgs(process.argv.slice(2))
const bin = path.join(root, 'node_modules', '@acala-network', 'chopsticks', 'chopsticks.cjs')
if (!fs.existsSync(bin)) fail(`${bin} is missing: @acala-network/chopsticks is a devDependency (npm ci installs it)`)

const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'kaisar-chopsticks-'))
const args = [bin, '--genesis', opts.spec, '--build-block-mode', opts.buildBlockMode, '--host', '127.0.0.1', '--port', String(opts.port)]
if (opts.importStorage != null) args.push('--import-storage', opts.importStorage)

const env = { ...process.env, DISABLE_PLUGINS: 'true', LOG_COMPACT: 'true', HTTP_PROXY: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9', http_proxy: 'http://127.0.0.1:9', https_proxy: 'http://127.0.0.1:9', NO_PROXY: '', no_proxy: '' }
delete env.PORT // chopsticks lets $PORT override --port
const started = Date.now()
const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })

let ready = false
let buffered = ''
const readyTimer = setTimeout(() => { stop('chopsticks did not start listening within ' + READY_TIMEOUT_MS / 1000 + ' s') }, READY_TIMEOUT_MS)
function onOutput (chunk) {
  process.stderr.write(chunk) // chopsticks' own log, for whoever runs this script
  if (ready) return
  buffered += chunk.toString()
  const m = /RPC listening on \S+ and (ws:\/\/[0-9.]+:(\d+))/.exec(buffered)
  if (m == null) return
  ready = true
  clearTimeout(readyTimer)
  buffered = ''
  const port = Number(m[2])
  if (opts.port !== 0 && port !== opts.port) {
    stop(`port ${opts.port} is in use (chopsticks moved to ${port})`)
    return
  }
  process.stdout.write(`${m[1]}\n`)
  process.stderr.write(`peaq-chopsticks: ready in ${Date.now() - started} ms at ${m[1]} (chopsticks pid ${child.pid})\n`)
}
child.stdout.on('data', onOutput)
child.stderr.on('data', onOutput)

let stopping = false
let failure
function stop (reason) {
  if (reason != null) failure = reason
  if (stopping) return
  stopping = true
  clearTimeout(readyTimer)
  if (child.exitCode == null && child.signalCode == null) {
    child.kill('SIGTERM')
    child.kill('SIGCONT') // in case it was paused (SIGSTOP), so it can act on SIGTERM now
    setTimeout(() => { child.kill('SIGKILL') }, 5_000).unref()
  }
}
process.on('SIGINT', () => { stop() })
process.on('SIGTERM', () => { stop() })
child.on('exit', (code, signal) => {
  clearTimeout(readyTimer)
  fs.rmSync(cwd, { recursive: true, force: true })
  if (failure != null) fail(failure, 1)
  if (!ready) fail(`chopsticks exited before it was ready (${signal ?? code})`, 1)
  process.exit(stopping ? 0 : (code ?? 1))
})
