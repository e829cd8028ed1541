// bin/kaisar-node.js re-executes the commands that carry tunnel bytes with
// --single-threaded-gc and a small young generation (node/runtime/gc-flags.ts says why). The decision, and the real thing:
// the CLI process, observed from inside through a preloaded probe, runs with the flag under the
// same pid, and only for those commands.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DATA_PATH_NODE_FLAGS, reexecArgv } from '../../node/runtime/gc-flags.js'

const CLI = path.resolve(fileURLToPath(new URL('../../../bin/kaisar-node.js', import.meta.url)))
const FLAG = '--single-threaded-gc'
const SEMI = '--max-semi-space-size=4'
const FLAGS = [FLAG, SEMI]
const hasExecve = typeof (process as { execve?: unknown }).execve === 'function'

const input = (argv: string[], extra: { execArgv?: string[], env?: Record<string, string>, hasIpc?: boolean } = {}): Parameters<typeof reexecArgv>[1] =>
  ({ argv: ['/usr/bin/node', '/app/bin/kaisar-node.js', ...argv], execArgv: extra.execArgv ?? [], env: extra.env ?? {}, hasIpc: extra.hasIpc ?? false })

test('start and connect are re-executed with the flags, the node options kept, the arguments unchanged', () => {
  assert.equal(DATA_PATH_NODE_FLAGS, FLAGS)
  assert.equal(reexecArgv('/n', input(['start', '--role', 'provider'], { execArgv: ['--max-old-space-size=512'] })),
    ['/n', ...FLAGS, '--max-old-space-size=512', '/app/bin/kaisar-node.js', 'start', '--role', 'provider'])
  assert.equal(reexecArgv('/n', input(['connect', 'L1', '--local', '8080:80'])), ['/n', ...FLAGS, '/app/bin/kaisar-node.js', 'connect', 'L1', '--local', '8080:80'])
})

test('a flag the user gave is matched by name: their value stays, only the missing flag is added', () => {
  // Their young generation comes after ours on the command line, so theirs is the one V8 keeps; ours is not added at all.
  assert.equal(reexecArgv('/n', input(['start'], { execArgv: ['--max-semi-space-size=32'] })), ['/n', FLAG, '--max-semi-space-size=32', '/app/bin/kaisar-node.js', 'start'])
  assert.equal(reexecArgv('/n', input(['start'], { execArgv: [FLAG] })), ['/n', SEMI, FLAG, '/app/bin/kaisar-node.js', 'start'])
  assert.is(reexecArgv('/n', input(['start'], { execArgv: [FLAG, '--max-semi-space-size=1'] })), undefined)
})

test('not re-executed: other commands, flag already there, IPC channel, opted out', () => {
  for (const argv of [[], ['id'], ['sim', '--nodes', '1000'], ['leases'], ['--help']]) assert.is(reexecArgv('/n', input(argv)), undefined, argv.join(' '))
  assert.is(reexecArgv('/n', input(['start'], { execArgv: FLAGS })), undefined)
  assert.is(reexecArgv('/n', input(['start'], { hasIpc: true })), undefined)
  assert.is(reexecArgv('/n', input(['start'], { env: { KAISAR_SINGLE_THREADED_GC: '0' } })), undefined)
  assert.ok(reexecArgv('/n', input(['start'], { env: { KAISAR_SINGLE_THREADED_GC: '1' } })) != null)
})

// Preloaded into the CLI process (and, through execArgv, into its re-executed self): reports the
// pid and the node options the process that actually runs the command has.
const PROBE = `data:text/javascript,process.on('exit', () => process.stderr.write('PROBE ' + JSON.stringify({ pid: process.pid, execArgv: process.execArgv.filter(a => !a.startsWith('--import') && !a.startsWith('data:')) }) + '\\n'))`

async function probe (args: string[], opts: { ipc?: boolean, env?: Record<string, string> } = {}): Promise<{ childPid: number, pid: number, execArgv: string[], code: number | null }> {
  const child = spawn(process.execPath, ['--import', PROBE, CLI, ...args], {
    stdio: ['ignore', 'ignore', 'pipe', ...(opts.ipc === true ? ['ipc' as const] : [])],
    env: { ...process.env, KAISAR_SINGLE_THREADED_GC: '', ...opts.env }
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>(resolve => child.once('exit', c => { resolve(c) }))
  const line = stderr.split('\n').find(l => l.startsWith('PROBE '))
  assert.ok(line != null, `no probe output; stderr: ${stderr}`)
  const seen = JSON.parse(line.slice('PROBE '.length)) as { pid: number, execArgv: string[] }
  return { childPid: child.pid as number, code, ...seen }
}

test('the CLI running `start` runs with the flags, as the same process (without process.execve: as before, no flags)', async () => {
  // The project's own Node (22.23, from node_modules) has process.execve; on one without it the
  // CLI must still run, unflagged, rather than fail.
  const expected = hasExecve ? FLAGS : []
  const r = await probe(['start', '--help'])
  assert.is(r.code, 0)
  assert.equal(r.execArgv, expected, `Node ${process.version}, process.execve ${hasExecve ? 'present' : 'absent'}`)
  assert.is(r.pid, r.childPid) // execve: the spawner's pid, signals and stdio stay valid
  const c = await probe(['connect', '--help'])
  assert.equal(c.execArgv, expected)
})

test('the CLI running other commands, with an IPC channel or opted out, runs without it', async () => {
  assert.equal((await probe(['id', '--help'])).execArgv, [])
  assert.equal((await probe(['start', '--help'], { ipc: true })).execArgv, [])
  assert.equal((await probe(['start', '--help'], { env: { KAISAR_SINGLE_THREADED_GC: '0' } })).execArgv, [])
})

test.run()
