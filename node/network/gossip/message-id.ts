/**
 * Gossipsub's two message ids for this network.
 *
 * - `msgIdFn`, the spec'ed id every peer agrees on (it travels in IHAVE/IWANT): the first 20
 *   bytes of SHA-256 of the data. With StrictNoSign there is no (from, seqno); our envelopes carry
 *   a timestamp and a signature, so equal ids mean the same signed message.
 * - `fastMsgIdFn`, a local id gossipsub checks first, so a copy it has already seen is dropped
 *   before its SHA-256 id is computed and before it is decoded again (a copy already skipped the
 *   topic validator). Lodestar's choice: 64-bit xxhash of the data. Why it matters: at 1,000
 *   simulated nodes every node receives each checker's reveal (several KiB) from several mesh
 *   peers, and hashing every copy with SHA-256 was 9.5 % of a worker's time in the reveal window
 *   (sim/README.md, stop 33's profile).
 *
 * The fast id is seeded with a random value per node. Gossipsub caches it before the topic
 * validator runs, so a peer that could make an invalid message with the fast id of a valid one it
 * has seen would get the valid one dropped as a duplicate. Without the seed it cannot aim.
 */
import { createHash, randomBytes } from 'node:crypto'
import xxhash from 'xxhash-wasm'

export interface GossipMessageIds {
  msgIdFn: (msg: { data: Uint8Array }) => Uint8Array
  fastMsgIdFn: (msg: { data?: Uint8Array }) => string
}

/** Length of the spec'ed id in bytes (a SHA-256 prefix). */
const MESSAGE_ID_BYTES = 20

export function messageId (msg: { data: Uint8Array }): Uint8Array {
  return createHash('sha256').update(msg.data).digest().subarray(0, MESSAGE_ID_BYTES)
}

const NO_DATA = new Uint8Array(0)

// The wasm module is compiled once per process; every node of a simulator shard shares it.
let hasher: ReturnType<typeof xxhash> | undefined

/** The ids of one node; `seed` only for tests (default: random, once per call). */
export async function gossipMessageIds (seed: bigint = randomBytes(8).readBigUInt64BE()): Promise<GossipMessageIds> {
  hasher ??= xxhash()
  const { h64Raw } = await hasher
  return {
    msgIdFn: messageId,
    // Gossipsub reads a message without data as empty data (validateToRawMessage); so does this.
    fastMsgIdFn: msg => h64Raw(msg.data ?? NO_DATA, seed).toString(16)
  }
}
