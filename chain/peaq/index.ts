// The peaq implementation of the Ledger (DESIGN §3): @polkadot/api against a peaq node.
// `createPeaqLedger(url, options)` connects (or fails within `connectTimeoutMs` with
// LedgerUnavailableError) and returns a PeaqLedger. ./README.md maps the Ledger onto peaq's
// pallets and says who holds custody of what.
import { pino } from 'pino'
import { decodeAddress } from '@polkadot/util-crypto'
import { ConfigError } from '../../node/errors.js'
import { capturePolkadotConsole } from './console-capture.js'
import { PeaqLedger } from './ledger.js'
import { PeaqRuntime, polkadotUsesNativeWebSocket } from './runtime.js'
import type { Address, Amount } from '../ledger.js'
import type { Logger } from '../../node/log.js'

export { PeaqLedger } from './ledger.js'
export { PeaqRuntimeError } from './runtime.js'

export interface PeaqLedgerOptions {
  /**
   * The escrow (custody) account, SS58. Every stake and lease escrow is held in accounts derived
   * from it, rewards are paid from it, and only its key signs payouts (`closeLease`,
   * `settleEpoch`). Every node of one deployment must use the same one.
   */
  escrow: Address
  /** Prefix of every on-chain record name (≤ 16 of a-z 0-9 -); one per deployment. Default `kaisar`. */
  namespace?: string
  /** Give up connecting after this long (LedgerUnavailableError). Default 10 000 ms. */
  connectTimeoutMs?: number
  /** Deadline of every RPC request. Default 15 000 ms. */
  requestTimeoutMs?: number
  /** How long `submit` waits for a sent transaction to be in a block. Default 120 000 ms. */
  inclusionTimeoutMs?: number
  /** Delay between reconnection attempts after the connection is lost. Default 2 500 ms. */
  reconnectDelayMs?: number
  /** Mortal era of transactions, in blocks: a sent transaction is valid for this long only. Default 64. */
  eraPeriod?: number
  /** Least stake a provider / checker registers with (never below the existential deposit). Default 0. */
  minProviderStake?: Amount
  minCheckerStake?: Amount
  logger?: Logger
}

export async function createPeaqLedger (url: string, options: PeaqLedgerOptions): Promise<PeaqLedger> {
  try { decodeAddress(options.escrow) } catch { throw new ConfigError('escrow', `not an SS58 address: ${options.escrow}`) }
  const eraPeriod = options.eraPeriod ?? 64
  // Quantised eras (periods > 4096) start before the signing block: the settlement's lists are
  // looked up from the signing block on, so keep the period where the era starts exactly there.
  if (!Number.isInteger(eraPeriod) || eraPeriod < 4 || eraPeriod > 4096 || (eraPeriod & (eraPeriod - 1)) !== 0) throw new ConfigError('eraPeriod', 'a power of two from 4 to 4096')
  const logger = options.logger ?? pino({ level: 'silent' })
  capturePolkadotConsole(logger)
  if (polkadotUsesNativeWebSocket) {
    logger.warn('@polkadot/api was loaded before chain/peaq and uses Node\'s built-in WebSocket: an abandoned connection attempt can keep the process alive (import chain/peaq first; see chain/peaq/ws-binding.ts)')
  }
  const rt = await PeaqRuntime.connect(url, {
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
    reconnectDelayMs: options.reconnectDelayMs ?? 2_500
  })
  return new PeaqLedger(rt, {
    escrow: options.escrow,
    namespace: options.namespace ?? 'kaisar',
    eraPeriod,
    inclusionTimeoutMs: options.inclusionTimeoutMs ?? 120_000,
    minProviderStake: options.minProviderStake ?? 0n,
    minCheckerStake: options.minCheckerStake ?? 0n,
    logger
  })
}
