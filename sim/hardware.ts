// Simulated provider hardware: inventories as a real probe would report them, from a
// handful of profiles, validated by the real schema.
import { parseInventory, type HardwareInventory } from '../node/hardware/schema.js'

export interface SimGpu { model: string, name: string, vramMiB: number }

export const SIM_GPUS = {
  h100: { model: 'h100-sxm', name: 'NVIDIA H100 80GB HBM3', vramMiB: 81559 },
  a100: { model: 'a100-sxm-80gb', name: 'NVIDIA A100-SXM4-80GB', vramMiB: 81920 },
  l40s: { model: 'l40s', name: 'NVIDIA L40S', vramMiB: 46068 },
  rtx4090: { model: 'rtx-4090', name: 'NVIDIA GeForce RTX 4090', vramMiB: 24564 },
  t4: { model: 't4', name: 'Tesla T4', vramMiB: 15360 }
} satisfies Record<string, SimGpu>

export function simulatedInventory (gpus: SimGpu[], cpu: { threads?: number, memoryGiB?: number } = {}): HardwareInventory {
  const threads = cpu.threads ?? 64
  return parseInventory({
    version: 1,
    cpu: { vendor: 'AMD', model: 'EPYC (simulated)', physicalCores: Math.max(1, threads / 2), threads, baseGHz: 2.4, maxGHz: 3.7, flags: ['avx2', 'avx512f'] },
    memory: { totalBytes: (cpu.memoryGiB ?? 256) * 2 ** 30 },
    disks: [{ device: 'nvme0n1', type: 'nvme', sizeBytes: 2e12, model: 'simulated', mount: '/' }],
    os: { platform: 'linux', distro: 'Ubuntu', release: '22.04', kernel: '6.5.0', arch: 'x64' },
    network: [{ name: 'eth0', speedMbps: 10_000, ip4: null }],
    gpus: gpus.map((g, index) => ({ index, vendor: 'nvidia', name: g.name, model: g.model, vramMiB: g.vramMiB, uuid: `GPU-sim-${index}`, pciBusId: null, driverVersion: '550.54.15', powerLimitW: null, maxSmClockMHz: null })),
    gpuProbe: { source: 'nvidia-smi', error: null }
  })
}

/** Profile `i` of a fixed rotation: mixed GPU fleets, some CPU-only. */
export function profileInventory (i: number): HardwareInventory {
  const profiles: SimGpu[][] = [[SIM_GPUS.h100], [SIM_GPUS.a100, SIM_GPUS.a100], [SIM_GPUS.rtx4090], [], [SIM_GPUS.l40s], [SIM_GPUS.t4], [SIM_GPUS.h100, SIM_GPUS.h100]]
  return simulatedInventory(profiles[i % profiles.length] as SimGpu[])
}
