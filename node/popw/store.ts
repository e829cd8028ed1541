// Settled epochs, kept in the node's state DB: each epoch's outcomes (protobuf, in leaf order)
// with the root the ledger settled, so any outcome can be shown with its inclusion proof long
// after the gossip is gone, and scores come back after a restart.
import { fromHex, toHex, type MerkleTree } from '../../chain/merkle.js'
import { Outcome, outcomeTree } from '../../protocols/popw/outcome.js'
import type { Hex } from '../../chain/ledger.js'
import type { StateDb, SubDb } from '../store/state-db.js'

export interface SettledEpoch {
  epoch: number
  root: Hex
  /** Ledger height of the settlement and who submitted it (SS58). */
  height: number
  submitter: string
  /** How this node got the outcomes: built them itself, or fetched them from the submitter and verified them. */
  how: 'matched' | 'fetched'
  outcomes: Outcome[]
}

interface Stored { epoch: number, root: Hex, height: number, submitter: string, how: 'matched' | 'fetched', outcomes: string[] }

const key = (epoch: number): string => String(epoch).padStart(12, '0')

export class OutcomeStore {
  private readonly db: SubDb<string>
  private readonly trees = new Map<number, MerkleTree>()

  constructor (stateDb: StateDb) {
    this.db = stateDb.sublevel<string, string>('popw-settled', { valueEncoding: 'utf8' })
  }

  async put (s: SettledEpoch): Promise<void> {
    const stored: Stored = { ...s, outcomes: s.outcomes.map(o => Buffer.from(Outcome.encode(o)).toString('base64')) }
    await this.db.put(key(s.epoch), JSON.stringify(stored))
  }

  async get (epoch: number): Promise<SettledEpoch | undefined> {
    const text = await this.db.get(key(epoch))
    return text === undefined ? undefined : decode(text)
  }

  /** The newest settled epochs first, at most `limit`. */
  async recent (limit: number): Promise<SettledEpoch[]> {
    const out: SettledEpoch[] = []
    for await (const text of this.db.values({ reverse: true, limit })) out.push(decode(text))
    return out
  }

  /** The epoch's tree (cached): outcomes are stored in leaf order. */
  tree (s: SettledEpoch): MerkleTree {
    let t = this.trees.get(s.epoch)
    if (t == null) {
      t = outcomeTree(s.outcomes)
      if (toHex(t.root) !== s.root) throw new Error(`stored outcomes of epoch ${s.epoch} do not hash to their root`)
      this.trees.set(s.epoch, t)
      for (const e of this.trees.keys()) if (this.trees.size > 64 && e !== s.epoch) this.trees.delete(e)
    }
    return t
  }
}

function decode (text: string): SettledEpoch {
  const s = JSON.parse(text) as Stored
  fromHex(s.root)
  return { ...s, outcomes: s.outcomes.map(b => Outcome.decode(Buffer.from(b, 'base64'))) }
}
