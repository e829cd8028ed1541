// Issue 3 over real libp2p connections (TCP, Noise, Yamux on loopback): clients use the
// host's ledger through /kaisar/ledger/1.0.0; concurrent transfers are all accounted for;
// the registry is read by changes; the host unreachable for 30 s during settlement loses
// nothing and settles nothing twice;
// and the CLI's `wallet` shows the address and balance.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { cryptoWaitReady } from '@polkadot/util-crypto'
import { Level } from 'level'
import { MemoryLevel } from 'memory-level'
import path from 'node:path'
import { pino } from 'pino'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LocalChain, UNIT } from '../../chain/local/chain.js'
import { LedgerServer, RemoteLedger } from '../../chain/local/protocol.js'
import { LedgerTxError, type LedgerCall } from '../../chain/ledger.js'
import { Outbox } from '../../chain/outbox.js'
import { FastEd25519Signer } from '../../node/identity/signer.js'
import { NodeMetrics } from '../../node/metrics/registry.js'
import { createNetwork, type KaisarLibp2p } from '../../node/network/libp2p.js'
import { RecordVersionIndex, recordValidators } from '../../node/network/records/validators.js'
import { killAll, loopbackArgs, runCli, startNode } from '../helpers/cli.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import type { StateDb } from '../../node/store/state-db.js'
import type { PrivateKey } from '@libp2p/interface'

const log = pino({ level: 'silent' })
const cleanups: Array<() => Promise<void>> = []
test.after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {})
  await killAll()
  await removeTempDirs()
})

async function p2pNode (key: PrivateKey, listen = '/ip4/127.0.0.1/tcp/0'): Promise<KaisarLibp2p> {
  const db: StateDb = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
  const node = await createNetwork({
    privateKey: key, listen: [listen], transport: 'tcp', websockets: false, agentVersion: 'kaisar-test',
    maxConnections: 100, inboundConnectionThreshold: 100, dhtServer: false, relayServer: false, autonat: false, dcutr: false,
    records: recordValidators(new RecordVersionIndex(db), new NodeMetrics())
  })
  await node.start()
  return node
}

interface Host { node: KaisarLibp2p, chain: LocalChain, db: Level<string, Uint8Array>, server: LedgerServer, stop: () => Promise<void> }

/** A ledger host: LocalChain on LevelDB in `dir`, served on `listen`. */
async function startHost (key: PrivateKey, dir: string, listen = '/ip4/127.0.0.1/tcp/0'): Promise<Host> {
  const db = new Level<string, Uint8Array>(path.join(dir, 'state'), { valueEncoding: 'view' })
  await db.open()
  const chain = await LocalChain.open(db, { hostKey: key, idleBlockMs: 200 })
  const node = await p2pNode(key, listen)
  const server = new LedgerServer({ libp2p: node, chain, logger: log })
  await server.start()
  const host: Host = {
    node, chain, db, server,
    stop: async () => { await server.stop(); await node.stop(); await chain.close(); await db.close() }
  }
  return host
}

test.before(async () => { await cryptoWaitReady() })

/**
 * The outage test is split in two: its first half stops the ledger host, the tests after it run
 * during the outage (instead of the file sitting out 30 s), and its second half, last in the file,
 * keeps the outage's timeline (more settlements queued 15 s in, everything checked 30 s in) and
 * brings the host back.
 */
let outage: { dir: string, hostKey: PrivateKey, port: string | undefined, outbox: Outbox, settle: (epoch: number) => LedgerCall, rewardee: string, down: number, restarted: (h: Host) => void } | undefined

test('the ledger host goes away mid-settlement (its 30 s outage ends in the last test of this file)', async () => {
  const hostKey = await generateKeyPair('Ed25519')
  const dir = await tempDir()
  let host = await startHost(hostKey, dir)
  let hostUp = true
  cleanups.push(async () => { if (hostUp) await host.stop() })
  const addr = host.node.getMultiaddrs()[0] as ReturnType<typeof multiaddr>
  const port = addr.getComponents().find(c => c.name === 'tcp')?.value
  const client = await p2pNode(await generateKeyPair('Ed25519'))
  cleanups.push(async () => { await client.stop() })
  const remote = new RemoteLedger(client, { host: addr, timeoutMs: 3000 })

  const checker = FastEd25519Signer.random()
  await remote.submit(checker, { kind: 'faucet', amount: 1000n * UNIT })
  await remote.submit(checker, { kind: 'licenseChecker', peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(), stake: 50n * UNIT })
  const rewardee = FastEd25519Signer.random().address
  const db: StateDb = new MemoryLevel<string, Uint8Array>({ valueEncoding: 'view' })
  const outbox = new Outbox({ ledger: remote, wallet: checker, db, logger: log }, { minBackoffMs: 250, maxBackoffMs: 4000 })
  await outbox.start()
  cleanups.push(async () => { await outbox.stop() })
  const settle = (epoch: number): LedgerCall => ({ kind: 'settleEpoch', epoch, outcomeRoot: `0x${String(epoch).padStart(64, '0')}`, outcomeCount: 2, rewards: [{ to: rewardee, amount: 2n * UNIT }], penalties: [], points: [] })

  await outbox.enqueue('settle/1', settle(1))
  await outbox.waitSettled('settle/1')
  // The host goes away mid-run, with settlements queued before and during the outage.
  await host.stop()
  hostUp = false
  const down = Date.now()
  for (let e = 2; e <= 4; e++) await outbox.enqueue(`settle/${e}`, settle(e))
  outage = { dir, hostKey, port, outbox, settle, rewardee, down, restarted: (h: Host) => { host = h; hostUp = true } }
})

test('clients submit through the host: 1,000 concurrent transfers from 10 accounts, all accounted for', async () => {
  const hostKey = await generateKeyPair('Ed25519')
  const host = await startHost(hostKey, await tempDir())
  cleanups.push(host.stop)
  const client = await p2pNode(await generateKeyPair('Ed25519'))
  cleanups.push(async () => { await client.stop() })
  const remote = new RemoteLedger(client, { host: host.node.getMultiaddrs()[0] as ReturnType<typeof multiaddr> })
  const info = await remote.info()
  assert.is(info.genesisHash, host.chain.genesisHash)

  const senders = [...Array(10).keys()].map(() => FastEd25519Signer.random())
  for (const s of senders) await remote.submit(s, { kind: 'faucet', amount: 1000n * UNIT })
  const receiver = FastEd25519Signer.random().address
  const sends = senders.flatMap(s => [...Array(100).keys()].map(async () => await remote.submit(s, { kind: 'transfer', to: receiver, amount: 1n * UNIT })))
  const results = await Promise.allSettled(sends)
  assert.is(results.filter(r => r.status === 'fulfilled').length, 1000, String((results.find(r => r.status === 'rejected') as PromiseRejectedResult | undefined)?.reason))
  assert.is((await remote.account(receiver)).free, 1000n * UNIT)
  let total = (await remote.account(receiver)).free
  for (const s of senders) total += (await remote.account(s.address)).free
  assert.is(total, 10_000n * UNIT, 'conserved')

  // Refusals cross the wire with their code.
  try {
    await remote.submit(senders[0] as FastEd25519Signer, { kind: 'transfer', to: receiver, amount: 100_000n * UNIT })
    assert.unreachable('overdraft accepted')
  } catch (err) {
    assert.instance(err, LedgerTxError)
    assert.is((err as LedgerTxError).code, 'INSUFFICIENT_BALANCE')
  }

  // The registry crosses the wire as a node's snapshot reads it: the whole of it, then what changed after a block.
  const before = await remote.registryChanges()
  await remote.submit(senders[1] as FastEd25519Signer, { kind: 'registerProvider', peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(), stake: 100n * UNIT })
  const after = await remote.registryChanges(before.height)
  assert.equal([before.full, before.providers.length, after.full, after.cursor], [true, 0, false, undefined])
  assert.equal(after.providers, await host.chain.providers())
  // The whole registry has no method of its own on the wire: the client reads it in those pages.
  assert.equal(await remote.providers(), await host.chain.providers())
  assert.equal(await remote.checkers(), await host.chain.checkers())
})

test('CLI: `wallet` shows the address and balance; the local ledger is the default', async () => {
  const gateway = await startNode(loopbackArgs('gateway', await tempDir()))
  const provider = await startNode(loopbackArgs('provider', await tempDir(), ['--bootstrap', gateway.ready.addresses[0] as string]))
  // The provider registers itself with its stake (devnet faucet first): the wallet shows it.
  const w = await waitFor('provider stake locked', async () => {
    const r = await runCli(['wallet', '--api', provider.ready.api, '--json'])
    assert.is(r.code, 0, r.stderr)
    const x = JSON.parse(r.stdout) as { address: string, chain: string, free: string, locked: string, symbol: string }
    return x.locked === String(100n * 10n ** 12n) ? x : undefined
  }, 20_000, 250)
  assert.is(w.address, provider.ready.wallet)
  assert.is(w.chain, 'local')
  assert.is(w.symbol, 'KAI')
  const text = await runCli(['wallet', '--api', provider.ready.api])
  assert.match(text.stdout, new RegExp(`address ${provider.ready.wallet}`))
  assert.match(text.stdout, /locked  100 KAI/)
  assert.match(text.stdout, /free {4}[\d.]+ KAI/)
  for (const n of [provider, gateway]) assert.is(await n.stop(), 0)
})

test('the ledger host unreachable for 30 s during settlement: nothing lost, nothing settled twice', async () => {
  if (outage == null) throw new Error('the outage test failed before the host went away')
  const { dir, hostKey, port, outbox, settle, rewardee, down } = outage
  await new Promise(resolve => setTimeout(resolve, Math.max(0, 15_000 - (Date.now() - down))))
  for (let e = 5; e <= 6; e++) await outbox.enqueue(`settle/${e}`, settle(e))
  await new Promise(resolve => setTimeout(resolve, Math.max(0, 30_000 - (Date.now() - down))))
  assert.is(outbox.pending(), 5, 'all queued while the host is down')
  assert.ok((outbox.entry('settle/2')?.attempts ?? 0) >= 3, 'retried with backoff')

  const host = await startHost(hostKey, dir, `/ip4/127.0.0.1/tcp/${String(port)}`)
  outage.restarted(host)
  await waitFor('queued settlements sent after the outage', () => outbox.pending() === 0, 30_000, 200)
  for (let e = 1; e <= 6; e++) {
    const s = await host.chain.settlement(e)
    assert.ok(s != null, `epoch ${e} settled`)
  }
  assert.is((await host.chain.account(rewardee)).free, 12n * UNIT, 'six epochs, each paid once')
})

test.run()
