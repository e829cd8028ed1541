// The local ledger's host announces its blocks on gossip at a bounded rate: however many
// transactions (and so blocks) arrive, at most one announcement per ANNOUNCE_SPACING_MS, each
// carrying the transactions since the previous one and the newest head. Announcing every block
// made gossip to every node grow with the registrations at a network's start.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Keyring } from '@polkadot/keyring'
import { cryptoWaitReady } from '@polkadot/util-crypto'
import { Level } from 'level'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LocalChain, UNIT } from '../../chain/local/chain.js'
import { RemoteLedger } from '../../chain/local/protocol.js'
import { ANNOUNCE_SPACING_MS, LedgerAnnouncer } from '../../node/ledger/node-ledger.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'
import { testLogger } from '../helpers/popw.js'
import type { BlockAnnouncement } from '../../protocols/gossip/ledger-block.js'
import type { GossipService } from '../../node/network/gossip/service.js'
import type { StateDb } from '../../node/store/state-db.js'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'

test.after(removeTempDirs)
test.before(async () => { await cryptoWaitReady() })

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Only what the announcer uses of the gossip service: it registers a topic and publishes on it. */
function recordingGossip (): { gossip: GossipService, sent: Array<{ at: number, block: BlockAnnouncement }> } {
  const sent: Array<{ at: number, block: BlockAnnouncement }> = []
  const gossip = {
    register: () => {},
    publish: async (_spec: unknown, block: BlockAnnouncement) => { sent.push({ at: Date.now(), block }); return 0 }
  }
  return { gossip: gossip as unknown as GossipService, sent }
}

test('a burst of blocks is announced at most once per spacing, with every transaction counted', async () => {
  const dir = await tempDir()
  const db: StateDb = new Level<string, Uint8Array>(path.join(dir, 'state'), { valueEncoding: 'view' })
  await db.open()
  const hostKey = await generateKeyPair('Ed25519')
  const chain = await LocalChain.open(db, { hostKey, idleBlockMs: 60_000 })
  const { gossip, sent } = recordingGossip()
  const announcer = new LedgerAnnouncer(chain, gossip, testLogger(), 'host')
  await announcer.start()
  try {
    const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 })
    const TXS = 40
    const startHeight = (await chain.head()).height
    const began = Date.now()
    // One transaction every 25 ms: the host makes a block for nearly each of them.
    for (let i = 0; i < TXS; i++) {
      await chain.submit(keyring.addFromUri(`//burst${i}`), { kind: 'faucet', amount: UNIT })
      await sleep(25)
    }
    const head = await chain.head()
    const blocks = head.height - startHeight
    assert.ok(blocks >= TXS / 2, `the burst made ${blocks} blocks`)
    await sleep(ANNOUNCE_SPACING_MS + 100)
    const elapsed = Date.now() - began
    assert.ok(sent.length >= 2, `${sent.length} announcements`)
    assert.ok(sent.length <= Math.ceil(elapsed / ANNOUNCE_SPACING_MS) + 1, `${sent.length} announcements for ${blocks} blocks in ${elapsed} ms`)
    const times = sent.map(s => s.at)
    for (let i = 1; i < times.length; i++) {
      const gap = (times[i] ?? 0) - (times[i - 1] ?? 0)
      assert.ok(gap >= ANNOUNCE_SPACING_MS - 5, `announcements ${gap} ms apart`)
    }
    assert.is(sent.reduce((n, s) => n + s.block.txCount, 0), TXS, 'every transaction counted once')
    const last = sent.at(-1)?.block
    if (last == null) throw new Error('no announcement')
    assert.is(Number(last.height), head.height, 'the last announcement carries the newest head')
    assert.is(`0x${Buffer.from(last.hash).toString('hex')}`, head.hash)
  } finally {
    await announcer.stop()
    await chain.close()
    await db.close()
  }
})

test('a remote ledger follows block announcements only once something listens', () => {
  const remote = new RemoteLedger({} as unknown as Libp2p, { host: multiaddr('/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGRUVh2HX4mnzn6sZUQTnERsNMaGPCSNBBojUoxHBZCk9') })
  let follows = 0
  remote.whenFollowed(() => { follows++ })
  assert.is(follows, 0, 'nobody listens yet: not followed')
  const events: number[] = []
  const unsubscribe = remote.subscribe(e => { events.push(e.head.height) })
  assert.is(follows, 1, 'followed at the first listener')
  remote.subscribe(() => {})
  assert.is(follows, 1, 'followed once')
  remote.notify({ kind: 'block', head: { height: 7, hash: '0x00', timestamp: 1 }, txCount: 1 })
  assert.equal(events, [7])
  unsubscribe()
  let late = 0
  remote.whenFollowed(() => { late++ })
  assert.is(late, 1, 'a listener is already there: followed at once')
})

test.run()
