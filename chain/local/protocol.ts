// /kaisar/ledger/1.0.0: the local ledger's RPC. The host serves its LocalChain; every other
// node uses RemoteLedger, which implements the same Ledger interface over the protocol.
// Transactions are signed by the client's wallet; the host only checks and orders them.
import { z } from 'zod'
import { PROTOCOLS } from '../../protocols/ids.js'
import { registerReqResp, RemoteError, request, RequestFailedError } from '../../node/network/reqresp.js'
import { LEDGER_REJECTIONS, LedgerTxError, LedgerUnavailableError, type AccountInfo, type ChainHead, type CheckerLicence, type EpochSettlement, type Hex, type LeaseEscrow, type Ledger, type LedgerCall, type LedgerEvent, type LedgerRejection, type PeerRegistration, type ProviderRegistration, type RegistryPage, type TxReceipt, wholeRegistry } from '../ledger.js'
import { LOCAL_DECIMALS, LOCAL_SYMBOL, type LocalChain } from './chain.js'
import { parseSignedTx, signTx, txToJson } from './codec.js'
import type { Logger } from '../../node/log.js'
import type { Libp2p, PeerId, Startable } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { TxSigner } from '../../node/identity/signer.js'

const requestSchema = z.discriminatedUnion('method', [
  z.object({ method: z.literal('info') }),
  z.object({ method: z.literal('submit'), tx: z.unknown() }),
  z.object({ method: z.literal('head') }),
  z.object({ method: z.literal('account'), address: z.string().max(64) }),
  z.object({ method: z.literal('nextNonce'), address: z.string().max(64) }),
  z.object({ method: z.literal('provider'), address: z.string().max(64) }),
  z.object({ method: z.literal('checker'), address: z.string().max(64) }),
  z.object({ method: z.literal('registration'), peerId: z.string().max(128) }),
  z.object({ method: z.literal('escrow'), leaseId: z.string().max(64) }),
  z.object({ method: z.literal('settlement'), epoch: z.number().int().min(0) }),
  z.object({ method: z.literal('registryChanges'), since: z.number().int().min(0).optional(), cursor: z.string().max(256).optional() }),
  z.object({ method: z.literal('leasesOf'), provider: z.string().max(64) }),
  z.object({ method: z.literal('seedAt'), timestamp: z.number().int().min(0) })
])
type LedgerRequest = z.infer<typeof requestSchema>

export interface LedgerInfo { genesisHash: Hex, symbol: string, decimals: number, head: ChainHead }

/** Serves the host's chain to the network. */
export class LedgerServer implements Startable {
  private readonly libp2p: Libp2p
  private readonly chain: LocalChain
  private readonly log: Logger

  constructor (components: { libp2p: Libp2p, chain: LocalChain, logger: Logger }) {
    this.libp2p = components.libp2p
    this.chain = components.chain
    this.log = components.logger
  }

  async start (): Promise<void> {
    this.log.info({ genesis: this.chain.genesisHash, height: (await this.chain.head()).height }, 'hosting the local ledger')
    await registerReqResp(this.libp2p, {
      protocol: PROTOCOLS.ledger,
      schema: requestSchema,
      logger: this.log,
      maxInboundStreams: 1024,
      handle: async (req: LedgerRequest) => await this.handle(req)
    })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(PROTOCOLS.ledger)
  }

  private async handle (req: LedgerRequest): Promise<unknown> {
    const c = this.chain
    switch (req.method) {
      case 'info': return { genesisHash: c.genesisHash, symbol: c.symbol, decimals: c.decimals, head: await c.head() } satisfies LedgerInfo
      case 'submit': {
        let tx
        try { tx = parseSignedTx(req.tx) } catch (err) { throw new RemoteError(PROTOCOLS.ledger, 'BAD_CALL', `malformed transaction: ${(err as Error).message.slice(0, 300)}`) }
        return await c.submitSigned(tx)
      }
      case 'head': return await c.head()
      case 'account': return await c.account(req.address)
      case 'nextNonce': return { nonce: await c.nextNonce(req.address) }
      case 'provider': return await c.provider(req.address) ?? null
      case 'checker': return await c.checker(req.address) ?? null
      case 'registration': return await c.registration(req.peerId) ?? null
      case 'escrow': return await c.escrow(req.leaseId) ?? null
      case 'settlement': return await c.settlement(req.epoch) ?? null
      case 'registryChanges': return await c.registryChanges(req.since, req.cursor)
      case 'leasesOf': return await c.leasesOf(req.provider)
      case 'seedAt': return await c.seedAt(req.timestamp)
    }
  }
}

// ---- client ------------------------------------------------------------------------------

const big = z.union([z.string().regex(/^\d+$/), z.number().int()]).transform(v => BigInt(v))
const hex = z.string().regex(/^0x[0-9a-f]*$/) as unknown as z.ZodType<Hex>
const headSchema = z.object({ height: z.number().int(), hash: hex, timestamp: z.number() })
const receiptSchema = z.object({ txHash: hex, height: z.number().int(), blockHash: hex })
const accountSchema = z.object({ address: z.string(), free: big, locked: big, nonce: z.number().int(), points: big })
const registrationRecord = z.object({ address: z.string(), peerId: z.string(), stake: big, registeredAt: z.number().int() })
const providerSchema = registrationRecord.nullable()
const licenceSchema = z.object({
  address: z.string(), peerId: z.string(), stake: big, licensedAt: z.number().int(), eligible: z.boolean(),
  ineligibleAt: z.number().int().optional(), dissentEpochs: z.array(z.number().int()).optional()
})
const checkerSchema = licenceSchema.nullable()
const registrationSchema = z.object({ role: z.enum(['provider', 'checker']), address: z.string(), stake: big, eligible: z.boolean() }).nullable()
const escrowRecord = z.object({
  leaseId: z.string(), user: z.string(), provider: z.string(), amount: big, pricePerHour: big, maxSeconds: z.number(),
  startedAt: z.number().optional(), closedAt: z.number().optional(), status: z.enum(['funded', 'running', 'closed']),
  paidToProvider: big, refunded: big, closeReason: z.enum(['cancelled', 'expired', 'failed']).optional()
})
const escrowSchema = escrowRecord.nullable()
const transfer = z.object({ to: z.string(), amount: big })
const settlementSchema = z.object({
  epoch: z.number().int(), outcomeRoot: hex, outcomeCount: z.number().int(), submitter: z.string(), height: z.number().int(),
  rewards: z.array(transfer), penalties: z.array(z.object({ provider: z.string(), amount: big })), points: z.array(transfer),
  dissenters: z.array(z.string()).optional()
}).nullable()
const registryPageSchema = z.object({
  height: z.number().int().min(0), full: z.boolean(), providers: z.array(registrationRecord), checkers: z.array(licenceSchema), cursor: z.string().max(256).optional()
})
const infoSchema = z.object({ genesisHash: hex, symbol: z.string(), decimals: z.number().int(), head: headSchema })
const seedSchema = z.object({ seed: hex, height: z.number().int() })

export interface RemoteLedgerInit {
  /** The host: its peer id (when connected already) or a dialable multiaddr with /p2p/. */
  host: PeerId | Multiaddr
  timeoutMs?: number
  /** Bound on requests in flight (a stream each). */
  maxInFlight?: number
}

/** A Ledger backed by the host's LocalChain over /kaisar/ledger/1.0.0. */
export class RemoteLedger implements Ledger {
  readonly kind = 'local' as const
  readonly symbol = LOCAL_SYMBOL
  readonly decimals = LOCAL_DECIMALS
  private readonly libp2p: Libp2p
  private readonly init: RemoteLedgerInit
  private genesisHash?: Hex
  /** Next nonce per address, assigned locally so concurrent submits do not collide. */
  private readonly nonces = new Map<string, Promise<number>>()
  private readonly listeners = new Set<(e: LedgerEvent) => void>()
  private follow?: () => void
  private inFlight = 0
  private readonly waiting: Array<() => void> = []

  constructor (libp2p: Libp2p, init: RemoteLedgerInit) {
    this.libp2p = libp2p
    this.init = init
  }

  private async call<S extends z.ZodType>(body: LedgerRequest, schema: S, timeoutMs?: number): Promise<z.infer<S>> {
    const max = this.init.maxInFlight ?? 256
    if (this.inFlight >= max) await new Promise<void>(resolve => this.waiting.push(resolve))
    this.inFlight++
    try {
      const result = await request(this.libp2p, this.init.host, PROTOCOLS.ledger, body, { timeoutMs: timeoutMs ?? this.init.timeoutMs ?? 15_000 })
      const parsed = schema.safeParse(result)
      if (!parsed.success) throw new LedgerUnavailableError(`ledger host sent a malformed ${body.method} reply`)
      return parsed.data
    } catch (err) {
      if (err instanceof RemoteError) {
        if ((LEDGER_REJECTIONS as readonly string[]).includes(err.code)) {
          const kind = body.method === 'submit' ? (body.tx as { call?: { kind?: LedgerCall['kind'] } }).call?.kind ?? 'transfer' : 'transfer'
          throw new LedgerTxError(err.code as LedgerRejection, kind, err.message.replace(/^[a-zA-Z]+: /, ''))
        }
        if (err.code === 'LEDGER_NOT_YET') throw new LedgerUnavailableError(err.message, 'LEDGER_NOT_YET')
        throw new LedgerUnavailableError(`ledger host: ${err.message}`)
      }
      if (err instanceof RequestFailedError) throw new LedgerUnavailableError(`ledger host unreachable: ${err.message}`)
      throw err
    } finally {
      this.inFlight--
      this.waiting.shift()?.()
    }
  }

  async info (): Promise<LedgerInfo> {
    const info = await this.call({ method: 'info' }, infoSchema)
    this.genesisHash = info.genesisHash
    return info
  }

  private async nextNonce (address: string): Promise<number> {
    const previous = this.nonces.get(address)
    const next = previous != null
      ? previous.then(n => n + 1, async () => await this.fetchNonce(address))
      : this.fetchNonce(address)
    this.nonces.set(address, next)
    return await next
  }

  private async fetchNonce (address: string): Promise<number> {
    return (await this.call({ method: 'nextNonce', address }, z.object({ nonce: z.number().int() }))).nonce
  }

  async submit (wallet: TxSigner, call: LedgerCall): Promise<TxReceipt> {
    const genesisHash = this.genesisHash ?? (await this.info()).genesisHash
    const nonce = await this.nextNonce(wallet.address)
    const tx = signTx(wallet, genesisHash, nonce, call)
    try {
      return await this.call({ method: 'submit', tx: txToJson(tx) }, receiptSchema, 60_000)
    } catch (err) {
      // The nonce may not have been used (or used by another client of this wallet): ask the host next time.
      const refused = err instanceof LedgerTxError
      if (!refused || err.code === 'NONCE_REPLAYED' || err.code === 'BAD_NONCE' || err.code === 'BAD_SIGNATURE') this.nonces.delete(wallet.address)
      throw err
    }
  }

  async head (): Promise<ChainHead> { return await this.call({ method: 'head' }, headSchema) }
  async account (address: string): Promise<AccountInfo> { return await this.call({ method: 'account', address }, accountSchema) }
  async provider (address: string): Promise<ProviderRegistration | undefined> { return await this.call({ method: 'provider', address }, providerSchema) ?? undefined }
  async checker (address: string): Promise<CheckerLicence | undefined> { return await this.call({ method: 'checker', address }, checkerSchema) ?? undefined }
  async registration (peerId: string): Promise<PeerRegistration | undefined> { return await this.call({ method: 'registration', peerId }, registrationSchema) ?? undefined }
  async escrow (leaseId: string): Promise<LeaseEscrow | undefined> { return await this.call({ method: 'escrow', leaseId }, escrowSchema) as LeaseEscrow | null ?? undefined }
  async settlement (epoch: number): Promise<EpochSettlement | undefined> { return await this.call({ method: 'settlement', epoch }, settlementSchema) as EpochSettlement | null ?? undefined }
  // The whole registry has no method of its own on the wire: it is read in registryChanges'
  // bounded pages, so no request makes the host build a reply that grows with the network.
  async providers (): Promise<ProviderRegistration[]> { return (await wholeRegistry(this)).providers }
  async checkers (): Promise<CheckerLicence[]> { return (await wholeRegistry(this)).checkers }
  async registryChanges (since?: number, cursor?: string): Promise<RegistryPage> { return await this.call({ method: 'registryChanges', since, cursor }, registryPageSchema) }
  async leasesOf (provider: string): Promise<LeaseEscrow[]> { return await this.call({ method: 'leasesOf', provider }, z.array(escrowRecord)) as LeaseEscrow[] }
  async seedAt (timestamp: number): Promise<{ seed: Hex, height: number }> { return await this.call({ method: 'seedAt', timestamp }, seedSchema) }

  /** Block events come from the host's announcements on gossip (see LedgerFollower); this feeds them in. */
  notify (event: LedgerEvent): void {
    for (const l of this.listeners) { try { l(event) } catch {} }
  }

  /**
   * Runs `follow` once, when the first listener subscribes (now, if one already has). Following
   * block announcements means joining their gossip mesh and forwarding every one of them, so a
   * node on which nothing reads block events (a provider) does not follow them at all.
   */
  whenFollowed (follow: () => void): void {
    if (this.listeners.size > 0) follow()
    else this.follow = follow
  }

  subscribe (listener: (e: LedgerEvent) => void): () => void {
    this.listeners.add(listener)
    const follow = this.follow
    this.follow = undefined
    follow?.()
    return () => { this.listeners.delete(listener) }
  }

  async close (): Promise<void> {
    this.listeners.clear()
  }
}
