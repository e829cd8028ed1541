// The GPU model table: which GPU a name printed by nvidia-smi (or lspci) stands for, and what
// its vendor says it can do. Renters filter on `id` and `class`; the scheduler ranks on `score`;
// checkers compare a provider's measured numbers with these.
//
// Figures are NVIDIA's published peaks (data-center spec sheets / product briefs; the Ampere
// GA102 and Ada Lovelace architecture whitepapers for GeForce and RTX cards):
// - fp32Tflops: non-tensor FP32 (CUDA cores), boost clock.
// - fp16TensorTflops: tensor cores, FP16 inputs with FP32 accumulate, DENSE (spec sheets quote
//   "with sparsity" figures twice as high; we halve those). FP32 accumulate is what mixed-precision
//   training uses, and it is where GeForce cards run at half the rate of their pro siblings.
// - vramGiB: nominal memory as marketed ("80GB" means 80 GiB on these parts).
//
// A name is matched only against the exact aliases below (after normalisation), never by
// substring or nearest match: "H200 NVL" or "RTX 4090 D" are different parts, and an unknown
// part must stay unknown rather than borrow another part's numbers.

export type GpuClass = 'datacenter' | 'workstation' | 'consumer'
export type GpuArchitecture = 'volta' | 'turing' | 'ampere' | 'ada' | 'hopper'

export interface GpuModel {
  /** Stable key used in records, capability keys and `--gpu` filters. */
  readonly id: string
  readonly name: string
  readonly class: GpuClass
  readonly architecture: GpuArchitecture
  readonly vramGiB: number
  readonly memBandwidthGBps: number
  readonly fp32Tflops: number
  readonly fp16TensorTflops: number
  /** Dense FP16 tensor throughput relative to an A100 (= 100): deep learning speed at a glance. */
  readonly score: number
  /** Normalised names (see normaliseGpuName) that denote this part. */
  readonly aliases: readonly string[]
}

/** The A100's dense FP16 tensor peak: the unit of `score`. */
const A100_FP16_TENSOR_TFLOPS = 312

type Spec = Omit<GpuModel, 'score'>

const SPECS: readonly Spec[] = [
  // Hopper. H100/H200 spec sheets: FP16 tensor 1,979 (SXM), 1,513 (PCIe), 1,671 (NVL) with sparsity.
  { id: 'h200-sxm', name: 'H200 SXM 141GB', class: 'datacenter', architecture: 'hopper', vramGiB: 141, memBandwidthGBps: 4800, fp32Tflops: 67, fp16TensorTflops: 989.5, aliases: ['h200', 'h200 sxm 141gb'] },
  { id: 'h100-sxm', name: 'H100 SXM 80GB', class: 'datacenter', architecture: 'hopper', vramGiB: 80, memBandwidthGBps: 3350, fp32Tflops: 67, fp16TensorTflops: 989.5, aliases: ['h100 80gb hbm3', 'h100 sxm5 80gb'] },
  { id: 'h100-pcie', name: 'H100 PCIe 80GB', class: 'datacenter', architecture: 'hopper', vramGiB: 80, memBandwidthGBps: 2000, fp32Tflops: 51, fp16TensorTflops: 756.5, aliases: ['h100 pcie'] },
  { id: 'h100-nvl', name: 'H100 NVL 94GB', class: 'datacenter', architecture: 'hopper', vramGiB: 94, memBandwidthGBps: 3900, fp32Tflops: 60, fp16TensorTflops: 835.5, aliases: ['h100 nvl'] },
  // Ampere data center. A100 spec sheet: FP32 19.5, FP16 tensor 312 dense for all four variants.
  { id: 'a100-sxm-80gb', name: 'A100 SXM4 80GB', class: 'datacenter', architecture: 'ampere', vramGiB: 80, memBandwidthGBps: 2039, fp32Tflops: 19.5, fp16TensorTflops: 312, aliases: ['a100 sxm4 80gb', 'a100 sxm 80gb'] },
  { id: 'a100-sxm-40gb', name: 'A100 SXM4 40GB', class: 'datacenter', architecture: 'ampere', vramGiB: 40, memBandwidthGBps: 1555, fp32Tflops: 19.5, fp16TensorTflops: 312, aliases: ['a100 sxm4 40gb'] },
  { id: 'a100-pcie-80gb', name: 'A100 PCIe 80GB', class: 'datacenter', architecture: 'ampere', vramGiB: 80, memBandwidthGBps: 1935, fp32Tflops: 19.5, fp16TensorTflops: 312, aliases: ['a100 80gb pcie', 'a100 pcie 80gb'] },
  { id: 'a100-pcie-40gb', name: 'A100 PCIe 40GB', class: 'datacenter', architecture: 'ampere', vramGiB: 40, memBandwidthGBps: 1555, fp32Tflops: 19.5, fp16TensorTflops: 312, aliases: ['a100 pcie 40gb'] },
  { id: 'a10', name: 'A10 24GB', class: 'datacenter', architecture: 'ampere', vramGiB: 24, memBandwidthGBps: 600, fp32Tflops: 31.2, fp16TensorTflops: 125, aliases: ['a10'] },
  // Ada data center / workstation. L40S: 362.05 dense; L4: 242 with sparsity; RTX 6000 Ada: 364.2 dense.
  { id: 'l40s', name: 'L40S 48GB', class: 'datacenter', architecture: 'ada', vramGiB: 48, memBandwidthGBps: 864, fp32Tflops: 91.6, fp16TensorTflops: 362.05, aliases: ['l40s'] },
  { id: 'l4', name: 'L4 24GB', class: 'datacenter', architecture: 'ada', vramGiB: 24, memBandwidthGBps: 300, fp32Tflops: 30.3, fp16TensorTflops: 121, aliases: ['l4'] },
  { id: 'rtx-6000-ada', name: 'RTX 6000 Ada 48GB', class: 'workstation', architecture: 'ada', vramGiB: 48, memBandwidthGBps: 960, fp32Tflops: 91.1, fp16TensorTflops: 364.2, aliases: ['rtx 6000 ada generation'] },
  // GeForce (Ada / Ampere whitepapers, "FP16 tensor with FP32 accumulate", dense).
  { id: 'rtx-4090', name: 'GeForce RTX 4090 24GB', class: 'consumer', architecture: 'ada', vramGiB: 24, memBandwidthGBps: 1008, fp32Tflops: 82.6, fp16TensorTflops: 165.2, aliases: ['rtx 4090'] },
  { id: 'rtx-4080', name: 'GeForce RTX 4080 16GB', class: 'consumer', architecture: 'ada', vramGiB: 16, memBandwidthGBps: 716.8, fp32Tflops: 48.7, fp16TensorTflops: 97.5, aliases: ['rtx 4080'] },
  { id: 'rtx-3090', name: 'GeForce RTX 3090 24GB', class: 'consumer', architecture: 'ampere', vramGiB: 24, memBandwidthGBps: 936, fp32Tflops: 35.6, fp16TensorTflops: 71, aliases: ['rtx 3090'] },
  // The 10 GB card only: the 12 GB RTX 3080 has more SMs and fails the VRAM check (unknown).
  { id: 'rtx-3080', name: 'GeForce RTX 3080 10GB', class: 'consumer', architecture: 'ampere', vramGiB: 10, memBandwidthGBps: 760, fp32Tflops: 29.8, fp16TensorTflops: 59.5, aliases: ['rtx 3080', 'rtx 3080 lite hash rate'] },
  // Turing / Volta. T4: 65 mixed precision; V100: 125 (SXM2) / 112 (PCIe) tensor.
  { id: 't4', name: 'T4 16GB', class: 'datacenter', architecture: 'turing', vramGiB: 16, memBandwidthGBps: 320, fp32Tflops: 8.1, fp16TensorTflops: 65, aliases: ['t4'] },
  { id: 'v100-sxm2-16gb', name: 'V100 SXM2 16GB', class: 'datacenter', architecture: 'volta', vramGiB: 16, memBandwidthGBps: 900, fp32Tflops: 15.7, fp16TensorTflops: 125, aliases: ['v100 sxm2 16gb'] },
  { id: 'v100-sxm2-32gb', name: 'V100 SXM2 32GB', class: 'datacenter', architecture: 'volta', vramGiB: 32, memBandwidthGBps: 900, fp32Tflops: 15.7, fp16TensorTflops: 125, aliases: ['v100 sxm2 32gb'] },
  { id: 'v100-pcie-16gb', name: 'V100 PCIe 16GB', class: 'datacenter', architecture: 'volta', vramGiB: 16, memBandwidthGBps: 900, fp32Tflops: 14, fp16TensorTflops: 112, aliases: ['v100 pcie 16gb'] },
  { id: 'v100-pcie-32gb', name: 'V100 PCIe 32GB', class: 'datacenter', architecture: 'volta', vramGiB: 32, memBandwidthGBps: 900, fp32Tflops: 14, fp16TensorTflops: 112, aliases: ['v100 pcie 32gb'] }
]

export const GPU_MODELS: readonly GpuModel[] = SPECS.map(spec => ({
  ...spec,
  score: Math.round(100 * spec.fp16TensorTflops / A100_FP16_TENSOR_TFLOPS)
}))

export function gpuModelById (id: string): GpuModel | undefined {
  return GPU_MODELS.find(m => m.id === id)
}

/**
 * The reported memory must lie within these fractions of the nominal size. nvidia-smi's
 * memory.total is a little under nominal (81559 MiB for "80GB"), and ECC on GDDR6 parts
 * (T4, A10, L4, L40S, RTX 6000 Ada with ECC on) reserves 1/16 of it (46068 MiB for "48GB").
 */
const VRAM_MIN_FRACTION = 0.9
const VRAM_MAX_FRACTION = 1.02

/**
 * Reduces the many spellings of one part to one key:
 * "NVIDIA A100-SXM4-80GB" → "a100 sxm4 80gb", "Tesla T4" → "t4",
 * "NVIDIA GeForce RTX 4090" → "rtx 4090", lspci's "GA100 [A100 SXM4 80GB]" → "a100 sxm4 80gb".
 */
export function normaliseGpuName (raw: string): string {
  // lspci / pci.ids put the marketing name in brackets after the chip name.
  const bracketed = /\[([^\]]+)\]/.exec(raw)?.[1]
  let name = (bracketed ?? raw).toLowerCase()
    .replace(/\((r|tm)\)|®|™/g, '')
    .replace(/[-_/,]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  // Vendor and brand words carry no information about the part ("Tesla T4" is the T4).
  for (let prefix = /^(nvidia|tesla|geforce) /.exec(name); prefix != null; prefix = /^(nvidia|tesla|geforce) /.exec(name)) {
    name = name.slice(prefix[0].length)
  }
  return name
}

export type GpuIdentification =
  | { known: true, model: GpuModel }
  | { known: false, reason: string }

/**
 * The table entry a GPU is, from the name its driver prints and (when known) its memory in MiB.
 * VRAM decides between parts that share a name, and vetoes a name whose memory does not fit
 * (a modded or misreported card is unknown, not promoted).
 */
export function identifyGpu (rawName: string, vramMiB: number | null): GpuIdentification {
  const key = normaliseGpuName(rawName)
  const byName = GPU_MODELS.filter(m => m.aliases.includes(key))
  if (byName.length === 0) return { known: false, reason: `"${rawName}" is not in the GPU model table` }
  const fits = vramMiB == null
    ? byName
    : byName.filter(m => vramMiB >= m.vramGiB * 1024 * VRAM_MIN_FRACTION && vramMiB <= m.vramGiB * 1024 * VRAM_MAX_FRACTION)
  if (fits.length === 1) return { known: true, model: fits[0] as GpuModel }
  if (fits.length === 0) return { known: false, reason: `"${rawName}" with ${String(vramMiB)} MiB matches no table entry's memory (${byName.map(m => `${m.id}: ${m.vramGiB} GiB`).join(', ')})` }
  return { known: false, reason: `"${rawName}" is ambiguous without its memory size (${fits.map(m => m.id).join(', ')})` }
}
