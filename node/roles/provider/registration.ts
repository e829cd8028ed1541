// Registers this provider on the ledger with its stake (through the outbox, so it happens
// exactly once and survives restarts). On a local devnet ledger an account short of the
// stake asks the faucet first; on peaq the operator funds the wallet.
import { parseTokenAmount } from '../../../chain/amount.js'
import { LedgerTxError, type Ledger } from '../../../chain/ledger.js'
import type { Outbox } from '../../../chain/outbox.js'
import type { TxSigner } from '../../identity/signer.js'
import type { Logger } from '../../log.js'
import type { Startable } from '@libp2p/interface'

export interface RoleRegistrarInit {
  role: 'provider' | 'checker'
  peerId: string
  /** Stake in tokens ("100"). */
  stake: string
  retryMs?: number
}

export class RoleRegistrar implements Startable {
  private timer?: NodeJS.Timeout
  private running = false
  private registered = false

  constructor (private readonly c: { ledger: Ledger, outbox: Outbox, wallet: TxSigner, logger: Logger }, private readonly init: RoleRegistrarInit) {}

  /** Whether the ledger knows this node in its role (with at least the configured stake). */
  get isRegistered (): boolean { return this.registered }

  async start (): Promise<void> {
    this.running = true
    this.schedule(0)
  }

  async stop (): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
  }

  private schedule (ms: number): void {
    if (!this.running) return
    this.timer = setTimeout(() => { void this.attempt() }, ms)
    this.timer.unref()
  }

  private async attempt (): Promise<void> {
    const { ledger, outbox, wallet, logger } = this.c
    try {
      const stake = parseTokenAmount(this.init.stake, ledger.decimals)
      const reg = await ledger.registration(this.init.peerId)
      if (reg != null && reg.role === this.init.role && reg.address === wallet.address && reg.stake >= stake) {
        this.registered = true
        logger.info({ role: this.init.role, stake: reg.stake.toString() }, 'registered on the ledger')
        return
      }
      const account = await ledger.account(wallet.address)
      const needed = stake - (reg?.stake ?? 0n)
      if (account.free < needed && ledger.kind === 'local') {
        // Devnet only: the local ledger's faucet (refused where the chain has none).
        try {
          await ledger.submit(wallet, { kind: 'faucet', amount: needed - account.free + 10n ** BigInt(ledger.decimals) })
        } catch (err) {
          if (!(err instanceof LedgerTxError)) throw err
          logger.warn({ err: err.message }, `wallet ${wallet.address} cannot cover the stake and the faucet refused`)
        }
      }
      const call = this.init.role === 'provider'
        ? { kind: 'registerProvider' as const, peerId: this.init.peerId, stake }
        : { kind: 'licenseChecker' as const, peerId: this.init.peerId, stake }
      const key = `register/${this.init.role}/${this.init.peerId}/${stake}`
      await outbox.enqueue(key, call)
      await outbox.waitSettled(key)
      this.schedule(0) // confirm through the ledger's state
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'registration not done yet; will retry')
      this.schedule(this.init.retryMs ?? 5_000)
    }
  }
}
