// Discovery.find asks the DHT again while its time budget lasts when a lookup finds nobody
// (a routing table still filling, or the closest peers' answers timing out on a busy network),
// instead of giving up after a fixed number of tries with most of the budget unused.
import { pino } from 'pino'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { peerIdFromString } from '@libp2p/peer-id'
import { Discovery } from '../../node/services/discovery.js'
import type { KaisarLibp2p } from '../../node/network/libp2p.js'
import type { SignedRecordStore } from '../../node/network/records/store.js'
import type { PeerId } from '@libp2p/interface'

const PEER = peerIdFromString('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')

/** A DHT whose first `emptyLookups` lookups find nobody, then PEER; and a record store that counts fetches. */
function fakes (emptyLookups: number): { discovery: Discovery, lookups: () => number, fetched: PeerId[] } {
  let lookups = 0
  const fetched: PeerId[] = []
  const libp2p = {
    contentRouting: {
      async * findProviders () {
        lookups++
        if (lookups > emptyLookups) yield { id: PEER, multiaddrs: [] }
      }
    }
  } as unknown as KaisarLibp2p
  const records = { fetch: async (_ns: string, peer: PeerId) => { fetched.push(peer); return undefined } } as unknown as SignedRecordStore
  return { discovery: new Discovery({ libp2p, records, logger: pino({ level: 'silent' }) }), lookups: () => lookups, fetched }
}

test('a provider found on the seventh lookup is described (five tries used to stop before it)', async () => {
  const f = fakes(6)
  const started = Date.now()
  await f.discovery.find({ region: 'BR' }, { timeoutMs: 8_000 })
  assert.is(f.lookups(), 7)
  assert.equal(f.fetched.map(p => p.toString()), [PEER.toString()], 'the peer the seventh lookup found was not looked at')
  assert.ok(Date.now() - started < 8_000)
})

test('nobody found: lookups go on until the budget ends, and find returns empty soon after it', async () => {
  const f = fakes(Infinity)
  const started = Date.now()
  const found = await f.discovery.find({ region: 'BR' }, { timeoutMs: 2_500 })
  const took = Date.now() - started
  assert.equal(found, [])
  assert.ok(took >= 2_400 && took < 3_500, `took ${took} ms for a 2,500 ms budget`)
  assert.ok(f.lookups() >= 5, `only ${f.lookups()} lookups`)
})

test.run()
