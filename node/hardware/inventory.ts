// What this machine has: CPU, memory, disks, OS, network interfaces and GPUs, as one validated
// HardwareInventory. systeminformation reads the kernel's view of the machine; GPUs come from
// nvidia-smi where the NVIDIA driver is installed (the ground truth: it knows the exact part,
// its memory and its UUID), otherwise from the PCI bus as systeminformation sees it.
import fs from 'node:fs'
import si, { type Systeminformation } from 'systeminformation'
import { execCommand, type CommandRunner } from './command.js'
import { NvidiaSmiError } from './errors.js'
import { identifyGpu } from './gpu-models.js'
import { queryNvidiaSmi, type NvidiaSmiGpu } from './nvidia-smi.js'
import { INVENTORY_VERSION, parseInventory, type GpuDevice, type HardwareInventory } from './schema.js'

/** The parts of systeminformation the inventory reads; tests substitute their own. */
export interface SystemSource {
  cpu: () => Promise<Pick<Systeminformation.CpuData, 'manufacturer' | 'brand' | 'cores' | 'physicalCores' | 'speed' | 'speedMax' | 'flags'>>
  mem: () => Promise<Pick<Systeminformation.MemData, 'total'>>
  blockDevices: () => Promise<Array<Pick<Systeminformation.BlockDevicesData, 'name' | 'type' | 'size' | 'mount' | 'physical' | 'model' | 'protocol'>>>
  diskLayout: () => Promise<Array<Pick<Systeminformation.DiskLayoutData, 'device' | 'type' | 'name' | 'interfaceType'>>>
  osInfo: () => Promise<Pick<Systeminformation.OsData, 'platform' | 'distro' | 'release' | 'kernel' | 'arch'>>
  networkInterfaces: () => Promise<Array<Pick<Systeminformation.NetworkInterfacesData, 'iface' | 'ip4' | 'speed' | 'internal' | 'virtual'>>>
  graphics: () => Promise<{ controllers: Array<Pick<Systeminformation.GraphicsControllerData, 'vendor' | 'model' | 'pciBus' | 'busAddress'>> }>
}

const systeminformation: SystemSource = {
  cpu: async () => await si.cpu(),
  mem: async () => await si.mem(),
  blockDevices: async () => await si.blockDevices(),
  diskLayout: async () => await si.diskLayout(),
  osInfo: async () => await si.osInfo(),
  networkInterfaces: async () => await si.networkInterfaces(),
  graphics: async () => await si.graphics()
}

export interface InventoryOptions {
  /** Runs nvidia-smi; tests pass a fake to play present / absent / failing. */
  runner?: CommandRunner
  nvidiaSmiTimeoutMs?: number
  system?: SystemSource
}

/**
 * CPU flags worth advertising: the vector and matrix extensions workloads are built for
 * (x86 and Arm), crypto, and virtualisation. The full list (100+ flags) would bloat every
 * signed record with facts no renter filters on.
 */
export const WORKLOAD_CPU_FLAGS: readonly string[] = [
  'sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx_vnni',
  'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16',
  'amx_tile', 'amx_bf16', 'amx_int8', 'aes', 'sha_ni', 'vmx', 'svm', 'hypervisor',
  'asimd', 'sve', 'sve2', 'bf16', 'i8mm'
]

/** Block devices that are not disks one could rent out: loop files, RAM disks, zram swap, optical, floppy. */
const NOT_A_DISK = /^(loop|ram|zram|sr|fd)\d*/

/** Collects the inventory of this machine. GPU probing failures are reported inside it, never thrown. */
export async function collectInventory (options: InventoryOptions = {}): Promise<HardwareInventory> {
  const system = options.system ?? systeminformation
  const [cpu, mem, blocks, layout, os, nets, gpu] = await Promise.all([
    system.cpu(), system.mem(), system.blockDevices(), system.diskLayout(), system.osInfo(), system.networkInterfaces(),
    probeGpus(options)
  ])
  // Checked before it leaves: a value systeminformation could not read (0 threads, NaN GHz)
  // must fail here, loudly, not in a peer's validator after we signed it.
  return parseInventory({
    version: INVENTORY_VERSION,
    cpu: {
      vendor: cpu.manufacturer,
      model: `${cpu.manufacturer} ${cpu.brand}`.trim(),
      physicalCores: cpu.physicalCores,
      threads: cpu.cores,
      baseGHz: ghz(cpu.speed),
      maxGHz: ghz(cpu.speedMax),
      flags: cpu.flags.split(/\s+/).filter(f => WORKLOAD_CPU_FLAGS.includes(f))
    },
    memory: { totalBytes: mem.total },
    disks: disksFrom(blocks, layout),
    os: { platform: os.platform, distro: os.distro, release: os.release, kernel: os.kernel, arch: os.arch },
    network: nets
      .filter(n => !n.internal && !n.virtual && !virtualOnLinux('net', n.iface))
      .map(n => ({ name: n.iface, speedMbps: n.speed != null && n.speed > 0 ? n.speed : null, ip4: n.ip4 !== '' ? n.ip4 : null })),
    gpus: gpu.gpus,
    gpuProbe: gpu.gpuProbe
  })
}

/**
 * Devices with no hardware behind them, which the kernel files under /sys/devices/virtual:
 * bridges, veths and tunnels (they come and go with containers, and systeminformation does not
 * flag them all; a record that changed with every lease would be re-signed for nothing), and
 * loop, zram, nbd, device-mapper and md block devices (views of disks, not disks).
 */
function virtualOnLinux (kind: 'net' | 'block', name: string): boolean {
  try {
    return fs.realpathSync(`/sys/class/${kind}/${name}`).includes('/devices/virtual/')
  } catch {
    return false // not Linux, or gone since listed
  }
}

function ghz (value: number): number | null {
  return Number.isFinite(value) && value > 0 ? Math.round(value * 100) / 100 : null
}

type BlockDevice = Awaited<ReturnType<SystemSource['blockDevices']>>[number]
type LayoutDisk = Awaited<ReturnType<SystemSource['diskLayout']>>[number]

/**
 * Whole disks (lsblk's TYPE=disk), each with its mount point: its own (a filesystem on the
 * whole disk, common on VMs) or, failing that, one of its partitions' (preferring /).
 */
export function disksFrom (blocks: BlockDevice[], layout: LayoutDisk[]): HardwareInventory['disks'] {
  const disks = blocks.filter(b => b.type === 'disk' && !NOT_A_DISK.test(b.name) && !virtualOnLinux('block', b.name) && b.size > 0)
  return disks.map(disk => {
    const physical = layout.find(l => l.device === `/dev/${disk.name}`)
    const partitionMounts = blocks
      .filter(b => b.type === 'part' && b.name.startsWith(disk.name) && /^p?\d+$/.test(b.name.slice(disk.name.length)) && b.mount !== '')
      .map(b => b.mount)
    const mount = disk.mount !== '' ? disk.mount : (partitionMounts.includes('/') ? '/' : partitionMounts[0])
    const model = (disk.model !== '' ? disk.model : physical?.name ?? '').trim()
    return { device: disk.name, type: diskType(disk, physical), sizeBytes: disk.size, model: model !== '' ? model : null, mount: mount ?? null }
  })
}

function diskType (disk: BlockDevice, physical: LayoutDisk | undefined): HardwareInventory['disks'][number]['type'] {
  if (disk.name.startsWith('nvme') || disk.protocol.toLowerCase() === 'nvme' || physical?.interfaceType === 'NVMe') return 'nvme'
  // The kernel's rotational flag, as lsblk reports it. Virtual disks often claim to rotate.
  const kind = (physical?.type ?? disk.physical).toUpperCase()
  if (kind === 'SSD') return 'ssd'
  if (kind === 'HDD') return 'hdd'
  return 'unknown'
}

// ---------------------------------------------------------------- GPUs

export interface GpuProbe {
  gpus: GpuDevice[]
  gpuProbe: HardwareInventory['gpuProbe']
}

/**
 * GPUs from nvidia-smi when it is installed; its failure (driver not loaded, garbage output)
 * is reported with no GPUs, since a GPU the driver cannot drive cannot be rented. Without
 * nvidia-smi, compute GPUs on the PCI bus are listed (with no memory size: lspci reports BAR
 * windows, not VRAM), so an operator sees the card and that its driver is missing.
 */
export async function probeGpus (options: InventoryOptions = {}): Promise<GpuProbe> {
  try {
    const smi = await queryNvidiaSmi(options.runner ?? execCommand, options.nvidiaSmiTimeoutMs ?? 10_000)
    if (smi.present) return { gpus: smi.gpus.map(fromNvidiaSmi), gpuProbe: { source: 'nvidia-smi', error: null } }
  } catch (err) {
    if (!(err instanceof NvidiaSmiError)) throw err
    return { gpus: [], gpuProbe: { source: 'nvidia-smi', error: { code: err.code, message: err.message.slice(0, 500) } } }
  }
  const { controllers } = await (options.system ?? systeminformation).graphics()
  return { gpus: computeGpusOnPci(controllers), gpuProbe: { source: 'pci', error: null } }
}

function fromNvidiaSmi (gpu: NvidiaSmiGpu): GpuDevice {
  const id = identifyGpu(gpu.name, gpu.memoryTotalMiB)
  return {
    index: gpu.index,
    vendor: 'nvidia',
    name: gpu.name,
    model: id.known ? id.model.id : null,
    vramMiB: gpu.memoryTotalMiB,
    uuid: gpu.uuid,
    pciBusId: gpu.pciBusId,
    driverVersion: gpu.driverVersion,
    powerLimitW: gpu.powerLimitW,
    maxSmClockMHz: gpu.maxSmClockMHz
  }
}

type Controller = Awaited<ReturnType<SystemSource['graphics']>>['controllers'][number]

/** AMD parts sold for compute; AMD integrated graphics ("Radeon 680M", "Vega") are not. */
const AMD_COMPUTE = /instinct|\bmi\d{2,3}|radeon pro|radeon rx/i

/**
 * The display controllers that look like compute GPUs: any NVIDIA device, AMD's compute and
 * discrete parts. Server BMC and virtual adapters (ASPEED, Matrox, QXL, virtio, VMware) and
 * integrated graphics are not offered to renters.
 */
export function computeGpusOnPci (controllers: Controller[]): GpuDevice[] {
  const gpus: GpuDevice[] = []
  for (const c of controllers) {
    const vendor = /nvidia/i.test(c.vendor) ? 'nvidia' : /\b(amd|ati)\b|advanced micro devices/i.test(c.vendor) && AMD_COMPUTE.test(c.model) ? 'amd' : undefined
    if (vendor == null || c.model.trim() === '') continue
    const id = vendor === 'nvidia' ? identifyGpu(c.model, null) : undefined
    gpus.push({
      index: gpus.length,
      vendor,
      name: c.model.trim(),
      model: id?.known === true ? id.model.id : null,
      vramMiB: null,
      uuid: null,
      pciBusId: (c.pciBus ?? c.busAddress ?? '') !== '' ? (c.pciBus ?? c.busAddress) as string : null,
      driverVersion: null,
      powerLimitW: null,
      maxSmClockMHz: null
    })
  }
  return gpus
}
