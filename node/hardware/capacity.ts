// The rentable totals of an inventory: what a provider advertises as capacity (heartbeats
// subtract running leases from these) and the capability keys it can be found under.
import { gpuModelById, type GpuClass } from './gpu-models.js'
import type { HardwareInventory } from './schema.js'

export interface HardwareCapacity {
  /** Logical CPUs. */
  cpus: number
  memoryBytes: number
  /** GPUs the driver can drive (from nvidia-smi) or seen on the PCI bus. */
  gpus: number
  /** Sum over GPUs with a known memory size. */
  vramMiB: number
  /** Table ids of the GPUs, "unknown" for parts not in the table; one entry per GPU. */
  gpuModels: string[]
  /** Classes of the known GPUs, deduplicated. */
  gpuClasses: GpuClass[]
}

export function hardwareCapacity (inventory: HardwareInventory): HardwareCapacity {
  const classes = new Set<GpuClass>()
  for (const gpu of inventory.gpus) {
    const model = gpu.model != null ? gpuModelById(gpu.model) : undefined
    if (model != null) classes.add(model.class)
  }
  return {
    cpus: inventory.cpu.threads,
    memoryBytes: inventory.memory.totalBytes,
    gpus: inventory.gpus.length,
    vramMiB: inventory.gpus.reduce((sum, g) => sum + (g.vramMiB ?? 0), 0),
    gpuModels: inventory.gpus.map(g => g.model ?? 'unknown'),
    gpuClasses: [...classes]
  }
}
