// Issue 2, done-when 5: `kaisar-node devnet` (1 gateway, 2 providers, 3 checkers): the
// gateway lists all five others as connected within 10 s; Ctrl-C leaves no process behind.
import { spawn } from 'node:child_process'
import net from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CLI, pidAlive } from '../helpers/cli.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import { getJson, waitFor } from '../helpers/wait.js'
import type { NodeStatus } from '../../node/node.js'

interface DevnetReady { event: 'ready', api: string, nodes: Array<{ name: string, role: string, pid: number, peerId: string, apiUrl: string }> }

const pids: number[] = []
test.after(async () => {
  for (const pid of pids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL')
  await removeTempDirs()
})

/** A base port whose whole devnet range (base..base+105) is free right now. */
async function freeBasePort (): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000)
    const ports = [...Array(12).keys()].map(i => base + i).concat([...Array(6).keys()].map(i => base + 100 + i))
    const free = await Promise.all(ports.map(async port => await new Promise<boolean>(resolve => {
      const s = net.createServer().once('error', () => { resolve(false) }).listen(port, '127.0.0.1', () => { s.close(() => { resolve(true) }) })
    })))
    if (free.every(Boolean)) return base
  }
  throw new Error('no free port range for the devnet')
}

test('devnet: the gateway sees all five others within 10 s; SIGINT stops every process', async () => {
  const basePort = await freeBasePort()
  const devnet = spawn(process.execPath, [CLI, 'devnet', '--providers', '2', '--checkers', '3', '--base-port', String(basePort), '--data-dir', await tempDir(), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  pids.push(devnet.pid as number)
  const exited = new Promise<number | null>(resolve => devnet.once('exit', code => { resolve(code) }))
  let stderr = ''
  devnet.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const started = Date.now()
  const ready = await new Promise<DevnetReady>((resolve, reject) => {
    let out = ''
    devnet.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const line = out.split('\n').find(l => l.startsWith('{"event":"ready"'))
      if (line != null) resolve(JSON.parse(line) as DevnetReady)
    })
    void exited.then(code => { reject(new Error(`devnet exited (${String(code)}) before ready:\n${stderr}`)) })
  })
  pids.push(...ready.nodes.map(n => n.pid))
  assert.is(ready.nodes.length, 6)
  assert.equal(ready.nodes.map(n => n.role).sort(), ['checker', 'checker', 'checker', 'gateway', 'provider', 'provider'])

  const others = ready.nodes.filter(n => n.role !== 'gateway')
  const status = await waitFor('gateway connected to all five', async () => {
    const s = await getJson<NodeStatus>(`${ready.api}/api/v1/status`)
    return others.every(o => s.peers.some(p => p.peerId === o.peerId && p.role === o.role)) ? s : undefined
  }, 10_000)
  assert.ok(Date.now() - started < 60_000)
  assert.is(status.role, 'gateway')

  devnet.kill('SIGINT')
  assert.is(await exited, 0, `devnet exit code; stderr:\n${stderr}`)
  for (const node of ready.nodes) assert.not.ok(pidAlive(node.pid), `${node.name} (pid ${node.pid}) still running`)
})

test('a SIGKILLed devnet takes its nodes with it', async () => {
  const basePort = await freeBasePort()
  const devnet = spawn(process.execPath, [CLI, 'devnet', '--providers', '1', '--checkers', '0', '--base-port', String(basePort), '--data-dir', await tempDir(), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  pids.push(devnet.pid as number)
  const ready = await new Promise<DevnetReady>(resolve => {
    let out = ''
    devnet.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const line = out.split('\n').find(l => l.startsWith('{"event":"ready"'))
      if (line != null) resolve(JSON.parse(line) as DevnetReady)
    })
  })
  pids.push(...ready.nodes.map(n => n.pid))
  devnet.kill('SIGKILL')
  for (const node of ready.nodes) await waitFor(`${node.name} exits after its devnet died`, () => !pidAlive(node.pid), 15_000)
})

test.run()
