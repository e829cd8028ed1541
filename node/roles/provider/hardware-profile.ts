// What this provider offers: its hardware inventory (probed, or from `--inventory-file`) and
// the result of the benchmark job. The benchmark is cached per inventory in the state DB, so
// a restart re-uses it; when none is cached it runs in the background and `onChange` fires
// when it finishes (the record is then signed again with it).
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import { ConfigError, errorMessage } from '../../errors.js'
import { hardwareCapacity, type HardwareCapacity } from '../../hardware/capacity.js'
import { encodeBenchmark, encodeInventory, decodeBenchmark, parseInventory, type BenchmarkResult, type HardwareInventory } from '../../hardware/schema.js'
import type { ThroughputProbe } from '../../hardware/benchmark/network.js'
import type { Logger } from '../../log.js'
import type { StateDb } from '../../store/state-db.js'
import type { Startable } from '@libp2p/interface'

export type BenchmarkMode = 'full' | 'quick' | 'skip'

export interface HardwareProfileInit {
  inventoryFile?: string
  /** Given hardware (the simulator's): wins over the file and the probe. */
  inventory?: HardwareInventory
  benchmark: BenchmarkMode
  /** Where to measure network throughput (a gateway), when one is reachable; gives up when `signal` aborts (stop). */
  networkProbe?: (signal: AbortSignal) => Promise<ThroughputProbe | undefined>
  onChange?: () => void
}

export class HardwareProfile implements Startable {
  private readonly db: StateDb
  private readonly log: Logger
  private readonly init: HardwareProfileInit
  private inv?: HardwareInventory
  private bench?: BenchmarkResult
  private running?: Promise<void>
  private readonly abort = new AbortController()

  constructor (components: { stateDb: StateDb, logger: Logger }, init: HardwareProfileInit) {
    this.db = components.stateDb
    this.log = components.logger
    this.init = init
  }

  get inventory (): HardwareInventory {
    if (this.inv == null) throw new Error('hardware profile not started')
    return this.inv
  }

  get benchmark (): BenchmarkResult | undefined { return this.bench }
  get capacity (): HardwareCapacity { return hardwareCapacity(this.inventory) }

  async start (): Promise<void> {
    this.inv = await this.loadInventory()
    const cap = this.capacity
    this.log.info({ cpus: cap.cpus, memoryBytes: cap.memoryBytes, gpus: cap.gpuModels, source: this.init.inventoryFile ?? 'probe' }, 'hardware inventory')
    if (this.init.benchmark === 'skip') return
    const key = this.cacheKey()
    const cached = await this.db.get(key)
    if (cached !== undefined) {
      try { this.bench = decodeBenchmark(Buffer.from(cached).toString('utf8')); return } catch { /* run it again */ }
    }
    this.running = this.runBenchmark(key)
  }

  async stop (): Promise<void> {
    this.abort.abort()
    await this.running?.catch(() => {})
  }

  private cacheKey (): string {
    return `provider/benchmark/${this.init.benchmark}/${createHash('sha256').update(encodeInventory(this.inventory)).digest('hex')}`
  }

  private async loadInventory (): Promise<HardwareInventory> {
    if (this.init.inventory != null) return this.init.inventory
    if (this.init.inventoryFile == null) {
      const { collectInventory } = await import('../../hardware/inventory.js')
      return await collectInventory()
    }
    let text: string
    try { text = await fs.readFile(this.init.inventoryFile, 'utf8') } catch (err) {
      throw new ConfigError('provider.inventoryFile', `cannot read ${this.init.inventoryFile}: ${errorMessage(err)}`)
    }
    try { return parseInventory(JSON.parse(text)) } catch (err) {
      throw new ConfigError('provider.inventoryFile', `${this.init.inventoryFile} is not a valid inventory: ${errorMessage(err)}`)
    }
  }

  private async runBenchmark (key: string): Promise<void> {
    const { runBenchmark } = await import('../../hardware/benchmark/run.js')
    const log = this.log
    try {
      log.info({ mode: this.init.benchmark }, 'benchmark job starting')
      const network = await this.init.networkProbe?.(this.abort.signal)
      if (this.abort.signal.aborted) return
      const result = await runBenchmark({
        quick: this.init.benchmark === 'quick',
        gpus: this.inventory.gpus,
        network,
        signal: this.abort.signal,
        onProgress: event => { log.info({ benchmark: event }, 'benchmark progress') }
      })
      if (this.abort.signal.aborted) return
      this.bench = result
      await this.db.put(key, Buffer.from(encodeBenchmark(result)))
      log.info('benchmark job done')
      this.init.onChange?.()
    } catch (err) {
      if (!this.abort.signal.aborted) log.warn({ err: errorMessage(err) }, 'benchmark job failed; the record goes without it')
    }
  }
}
