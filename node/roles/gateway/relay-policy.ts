// Circuit relay v2 cuts a relayed connection after 2 minutes or 128 KiB by default, which
// would kill every tunnel to a provider behind NAT. The gateway lifts those limits for lease
// holders only: a provider with a reservation here tells us (over /kaisar/relay/1.0.0) which
// peers hold its leases, until when; their relayed connections to it run unlimited, everyone
// else's (ordering, probing) keeps the defaults.
//
// @libp2p/circuit-relay-v2 takes the limit from the destination's reservation, with no hook
// per source. We wrap the server's `handleConnect`: for an allowed (source, destination) pair,
// the reservation it reads (synchronously, before its first await) is seen without a limit.
// The version is pinned in package.json; the e2e relay test (100 MiB through the gateway)
// fails if a release changes this.
import { z } from 'zod'
import { PROTOCOLS } from '../../../protocols/ids.js'
import { registerReqResp, RemoteError } from '../../network/reqresp.js'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import type { Logger } from '../../log.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { Startable } from '@libp2p/interface'

const grantSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('allow'), peer: z.string().max(128), until: z.number().int() }).strict(),
  z.object({ op: z.literal('revoke'), peer: z.string().max(128) }).strict()
])

interface Reservation { limit?: unknown }
interface ReservationStore { get: (peer: unknown) => Reservation | undefined, reservations?: { has: (peer: unknown) => boolean } }
interface HopConnectArgs { connection: { remotePeer: { toString: () => string } }, request: { peer?: { id?: Uint8Array } } }
interface RelayServerInternals {
  handleConnect: (args: HopConnectArgs, options: unknown) => Promise<void>
  reservationStore: ReservationStore
  reservations: { has: (peer: unknown) => boolean }
}

export const MAX_GRANTS_PER_PROVIDER = 256

export class RelayPolicy implements Startable {
  /** destination (provider) → source (lease holder) → until (ms). */
  private readonly grants = new Map<string, Map<string, number>>()
  private wrapped = false
  private readonly revokeListeners: Array<(holder: string, provider: string) => void> = []

  constructor (private readonly libp2p: KaisarLibp2p, private readonly log: Logger, private readonly now: () => number = Date.now) {}

  isAllowed (source: string, destination: string): boolean {
    const until = this.grants.get(destination)?.get(source)
    return until != null && until > this.now()
  }

  /** Called when a provider takes a holder's access back (its lease ended): open splices close. */
  onRevoke (listener: (holder: string, provider: string) => void): void {
    this.revokeListeners.push(listener)
  }

  async start (): Promise<void> {
    const server = (this.libp2p.services as Record<string, unknown>).relay as Partial<RelayServerInternals> | undefined
    if (server == null) return
    if (typeof server.handleConnect !== 'function' || server.reservationStore == null || typeof server.reservationStore.get !== 'function') {
      this.log.warn('relay server internals changed: lease holders keep the default relay limits')
    } else {
      const original = server.handleConnect.bind(server)
      const store = server.reservationStore
      server.handleConnect = async (args, options) => {
        const dst = destinationOf(args)
        if (dst == null || !this.isAllowed(args.connection.remotePeer.toString(), dst)) return await original(args, options)
        const get = store.get
        store.get = (peer: unknown) => { const r = get.call(store, peer); return r == null ? r : { ...r, limit: undefined } }
        try {
          return await original(args, options)
        } finally {
          store.get = get
        }
      }
      this.wrapped = true
    }
    await registerReqResp(this.libp2p, {
      protocol: PROTOCOLS.relayGrant,
      schema: grantSchema,
      logger: this.log,
      handle: async (req, from) => {
        if (server.reservations?.has(from) !== true) throw new RemoteError(PROTOCOLS.relayGrant, 'NO_RESERVATION', 'only a peer with a relay reservation here grants access to itself')
        const dst = from.toString()
        const map = this.grants.get(dst) ?? new Map<string, number>()
        for (const [src, until] of map) if (until <= this.now()) map.delete(src)
        if (req.op === 'allow') {
          if (map.size >= MAX_GRANTS_PER_PROVIDER && !map.has(req.peer)) throw new RemoteError(PROTOCOLS.relayGrant, 'TOO_MANY', `at most ${MAX_GRANTS_PER_PROVIDER} grants per provider`)
          map.set(req.peer, req.until)
        } else {
          map.delete(req.peer)
          for (const listener of this.revokeListeners) listener(req.peer, dst)
        }
        this.grants.set(dst, map)
        this.log.debug({ provider: dst, holder: req.peer, op: req.op }, 'relay grant')
        return { ok: true, unlimited: this.wrapped }
      }
    })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(PROTOCOLS.relayGrant)
  }
}

function destinationOf (args: HopConnectArgs): string | undefined {
  const id = args.request.peer?.id
  if (id == null) return undefined
  try { return peerIdFromMultihash(Digest.decode(id)).toString() } catch { return undefined }
}
