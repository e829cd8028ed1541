import fs from 'node:fs/promises'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { envName, loadConfig } from '../../node/config/load.js'
import { ConfigError } from '../../node/errors.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'

async function rejects (p: Promise<unknown>, pattern: RegExp): Promise<ConfigError> {
  try {
    await p
  } catch (err) {
    assert.instance(err, ConfigError)
    assert.match((err as Error).message, pattern)
    return err as ConfigError
  }
  assert.unreachable(`expected a ConfigError matching ${String(pattern)}`)
  throw new Error("unreachable")
}

test.after(removeTempDirs)

test('env names are derived from key paths', () => {
  assert.is(envName('dataDir'), 'KAISAR_DATA_DIR')
  assert.is(envName('network.maxConnections'), 'KAISAR_NETWORK_MAX_CONNECTIONS')
  assert.is(envName('heartbeat.intervalMs'), 'KAISAR_HEARTBEAT_INTERVAL_MS')
})

test('defaults depend on the role', async () => {
  const gw = await loadConfig({ flags: { role: 'gateway' } })
  assert.is(gw.api, '0.0.0.0:8080')
  assert.is(gw.network.relayServer, true)
  assert.is(gw.chain, 'local')
  assert.is(gw.heartbeat.intervalMs, 15_000)
  assert.is(gw.peaq.connectTimeoutMs, 10_000, 'a node on peaq waits 10 s for its chain RPC by default')
  const pv = await loadConfig({ flags: { role: 'provider' } })
  assert.is(pv.api, '127.0.0.1:7001')
  assert.is(pv.network.relayServer, false)
  assert.ok(pv.dataDir.endsWith(path.join('.kaisar', 'provider')))
})

test('precedence: defaults < file < env < flags', async () => {
  const dir = await tempDir()
  const file = path.join(dir, 'kaisar.json')
  await fs.writeFile(file, JSON.stringify({ role: 'checker', api: '127.0.0.1:1111', logLevel: 'warn', region: 'DE', network: { maxConnections: 10 } }))
  const fromFile = await loadConfig({ file })
  assert.is(fromFile.api, '127.0.0.1:1111')
  assert.is(fromFile.network.maxConnections, 10)
  assert.is(fromFile.network.dhtServer, true, 'nested defaults still apply')

  const env = { KAISAR_API: '127.0.0.1:2222', KAISAR_LOG_LEVEL: 'debug', KAISAR_NETWORK_MAX_CONNECTIONS: '20', KAISAR_LISTEN: '/ip4/127.0.0.1/tcp/1,/ip4/127.0.0.1/tcp/2' }
  const fromEnv = await loadConfig({ file, env })
  assert.is(fromEnv.api, '127.0.0.1:2222')
  assert.is(fromEnv.logLevel, 'debug')
  assert.is(fromEnv.network.maxConnections, 20)
  assert.equal(fromEnv.listen, ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2'])
  assert.is(fromEnv.region, 'DE', 'file value kept where env is silent')

  const fromFlags = await loadConfig({ file, env, flags: { api: '127.0.0.1:3333', role: 'provider' } })
  assert.is(fromFlags.api, '127.0.0.1:3333')
  assert.is(fromFlags.role, 'provider')
  assert.is(fromFlags.logLevel, 'debug')
})

test('a bad value names the key, the value and where it came from', async () => {
  await rejects(loadConfig({ flags: { role: 'miner' } }), /^config: role: must be one of provider, checker, gateway \(got "miner" from flag --role\)$/)
  await rejects(loadConfig({ flags: { role: 'gateway', listen: ['/ip4/1.2.3.4/tcp/x'] } }), /^config: listen\[0\]: not a valid multiaddr \(got "\/ip4\/1.2.3.4\/tcp\/x" from flag --listen\)$/)
  await rejects(loadConfig({ flags: { role: 'gateway', bootstrap: ['/ip4/127.0.0.1/tcp/4001'] } }), /bootstrap\[0\]: must end with \/p2p\/<peer id>/)
  await rejects(loadConfig({ flags: { role: 'gateway', api: 'localhost' } }), /^config: api: must be HOST:PORT/)
  await rejects(loadConfig({ flags: { role: 'gateway' }, env: { KAISAR_NETWORK_MAX_CONNECTIONS: 'lots' } }), /network\.maxConnections: .*from env KAISAR_NETWORK_MAX_CONNECTIONS/)
  await rejects(loadConfig({ flags: { role: 'gateway', chain: 'http://x' } }), /^config: chain: must be "local" or a ws/)
  await rejects(loadConfig({ flags: { role: 'checker', chain: 'ws://127.0.0.1:1' } }), /^config: peaq\.escrow: a node on peaq needs the deployment's escrow account/)
  await rejects(loadConfig({ flags: {} }), /^config: role: is required/)
})

test('config files: missing, malformed, not an object, unknown keys', async () => {
  const dir = await tempDir()
  await rejects(loadConfig({ file: path.join(dir, 'nope.json') }), /--config: file .* does not exist/)
  const bad = path.join(dir, 'bad.json')
  await fs.writeFile(bad, '{ "role": "gateway", ')
  await rejects(loadConfig({ file: bad }), /--config: .*bad\.json is not valid JSON/)
  await fs.writeFile(bad, '[1,2]')
  await rejects(loadConfig({ file: bad }), /must hold a JSON object/)
  await fs.writeFile(bad, JSON.stringify({ role: 'gateway', lisen: [] }))
  await rejects(loadConfig({ file: bad }), /unknown key lisen/)
  await fs.writeFile(bad, JSON.stringify({ role: 'gateway', network: { maxConnection: 3 } }))
  await rejects(loadConfig({ file: bad }), /network: unknown key maxConnection/)
})

test.run()
