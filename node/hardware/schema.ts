// The two hardware documents a provider signs into its ProviderRecord (inventory_json and
// benchmark_json): their schemas, and the only way in and out of JSON. Both are versioned;
// a peer's document is validated before anything reads it, and ours before we sign it.
//
// Kept compact and stable: no timestamps or host names in the inventory (the same machine
// gives byte-identical JSON, so the record is re-signed only when the hardware changes),
// bounded lists, and units in field names (MB = 10^6 bytes, GB = 10^9, MiB = 2^20).
import { z } from 'zod'
import { HardwareRecordInvalidError } from './errors.js'

export const INVENTORY_VERSION = 1
export const BENCHMARK_VERSION = 1

const text = (max: number): z.ZodString => z.string().max(max)
const count = z.number().int().min(0)
const positive = z.number().positive().finite()

// ---------------------------------------------------------------- inventory

export const gpuDeviceSchema = z.object({
  index: count,
  vendor: z.enum(['nvidia', 'amd']),
  /** The name the driver (or lspci) prints, verbatim. */
  name: text(200).min(1),
  /** GPU_MODELS id (node/hardware/gpu-models.ts), or null when the part is unknown. */
  model: text(64).regex(/^[a-z0-9-]+$/).nullable(),
  vramMiB: count.nullable(),
  uuid: text(100).nullable(),
  pciBusId: text(32).nullable(),
  driverVersion: text(32).nullable(),
  powerLimitW: z.number().min(0).finite().nullable(),
  maxSmClockMHz: z.number().min(0).finite().nullable()
}).strict()

export const inventorySchema = z.object({
  version: z.literal(INVENTORY_VERSION),
  cpu: z.object({
    vendor: text(64),
    model: text(200),
    physicalCores: count.min(1),
    /** Logical CPUs (hardware threads) of the machine. */
    threads: count.min(1),
    baseGHz: positive.nullable(),
    maxGHz: positive.nullable(),
    /** Instruction-set flags that matter for placing workloads (see WORKLOAD_CPU_FLAGS). */
    flags: z.array(text(32)).max(64)
  }).strict(),
  memory: z.object({ totalBytes: count.min(1) }).strict(),
  disks: z.array(z.object({
    /** Kernel name, e.g. "nvme0n1", "sda", "vda". */
    device: text(64),
    type: z.enum(['nvme', 'ssd', 'hdd', 'unknown']),
    sizeBytes: count,
    model: text(200).nullable(),
    /** Where it (or its partition holding /) is mounted, when it is. */
    mount: text(256).nullable()
  }).strict()).max(64),
  os: z.object({ platform: text(32), distro: text(100), release: text(64), kernel: text(100), arch: text(32) }).strict(),
  network: z.array(z.object({
    name: text(64),
    /** Link speed; null where the kernel does not know (virtual NICs report -1). */
    speedMbps: positive.nullable(),
    ip4: text(15).nullable()
  }).strict()).max(64),
  gpus: z.array(gpuDeviceSchema).max(64),
  /** Where the GPU list came from, and why it is empty when probing failed. */
  gpuProbe: z.object({
    /** nvidia-smi (the NVIDIA driver answered) or pci (no NVIDIA driver: the PCI bus via systeminformation). */
    source: z.enum(['nvidia-smi', 'pci']),
    error: z.object({ code: text(64), message: text(500) }).strict().nullable()
  }).strict()
}).strict()

export type HardwareInventory = z.infer<typeof inventorySchema>
export type GpuDevice = z.infer<typeof gpuDeviceSchema>

// ---------------------------------------------------------------- benchmark

const skipped = z.object({ status: z.literal('skipped'), reason: text(500) }).strict()
const failed = z.object({ status: z.literal('failed'), error: text(500), durationMs: count }).strict()

/** A stage either ran (its figures), was not applicable (why), or failed (the error). */
function stage<T extends z.ZodRawShape> (figures: T) {
  return z.discriminatedUnion('status', [
    z.object({ status: z.literal('ok'), durationMs: count, ...figures }).strict(),
    skipped,
    failed
  ])
}

export const gpuBenchmarkDeviceSchema = z.object({
  index: count,
  name: text(200),
  /** Dense matmul, FP32 without TF32. */
  fp32Tflops: positive,
  /** Dense matmul, FP16 in, tensor cores (FP32 accumulate as cuBLAS chooses). */
  fp16Tflops: positive,
  /** Device-to-device copy, bytes copied per second. */
  copyGBps: positive
}).strict()

export const benchmarkSchema = z.object({
  version: z.literal(BENCHMARK_VERSION),
  quick: z.boolean(),
  startedAt: z.iso.datetime(),
  durationMs: count,
  /** SHA-256 over 1 MiB blocks on every thread at once (worker_threads). */
  cpuHash: stage({ threads: count.min(1), sha256MBps: positive, perThreadMBps: positive }),
  /** Float64 n×n matrix multiply in JavaScript on every thread at once: 2n³ flops each. */
  cpuMatmul: stage({ threads: count.min(1), n: count.min(1), gflops: positive, perThreadGflops: positive }),
  /** One thread copying a buffer larger than the caches; bytes copied per second. */
  memory: stage({ bufferMiB: positive, copyGBps: positive }),
  /** A temp file, written with periodic fsync (included in the time), read back, removed. */
  disk: stage({
    dir: text(1024),
    fileMiB: positive,
    writeMBps: positive,
    readMBps: positive,
    /** True when the read used O_DIRECT; false means the page cache may have served it. */
    readDirect: z.boolean(),
    /** The directory is on tmpfs: these are memory figures, not disk figures. */
    tmpfs: z.boolean()
  }),
  /** Bytes moved to a peer (or over loopback in standalone mode) per second. */
  network: stage({ target: text(200), bytes: count, throughputMBps: positive }),
  /** A CUDA workload in a container, per GPU. */
  gpu: stage({ image: text(300), devices: z.array(gpuBenchmarkDeviceSchema).min(1).max(64) })
}).strict()

export type BenchmarkResult = z.infer<typeof benchmarkSchema>
export type StageName = 'cpuHash' | 'cpuMatmul' | 'memory' | 'disk' | 'network' | 'gpu'
export type StageResult<K extends StageName> = BenchmarkResult[K]
export type GpuBenchmarkDevice = z.infer<typeof gpuBenchmarkDeviceSchema>

// ---------------------------------------------------------------- validation, JSON in and out

/** The first schema problem as "path: message", for one-line errors. */
export function describeSchemaIssue (error: z.ZodError): string {
  const issue = error.issues[0]
  if (issue == null) return 'does not match the schema'
  return `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`
}

function validate<T> (schema: z.ZodType<T>, what: 'inventory' | 'benchmark', value: unknown): T {
  const result = schema.safeParse(value)
  if (!result.success) throw new HardwareRecordInvalidError(what, describeSchemaIssue(result.error))
  return result.data
}

function decode<T> (schema: z.ZodType<T>, what: 'inventory' | 'benchmark', json: string): T {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    throw new HardwareRecordInvalidError(what, 'not valid JSON')
  }
  return validate(schema, what, value)
}

/** Checks a value against the inventory schema. Throws HardwareRecordInvalidError. */
export function parseInventory (value: unknown): HardwareInventory {
  return validate(inventorySchema, 'inventory', value)
}

/** Validates and serialises an inventory for signing (inventory_json). */
export function encodeInventory (inventory: HardwareInventory): string {
  return JSON.stringify(parseInventory(inventory))
}

/** Parses a peer's inventory_json. Throws HardwareRecordInvalidError. */
export function decodeInventory (json: string): HardwareInventory {
  return decode(inventorySchema, 'inventory', json)
}

export function parseBenchmark (value: unknown): BenchmarkResult {
  return validate(benchmarkSchema, 'benchmark', value)
}

/** Validates and serialises a benchmark result for signing (benchmark_json). */
export function encodeBenchmark (result: BenchmarkResult): string {
  return JSON.stringify(parseBenchmark(result))
}

/** Parses a peer's benchmark_json. Throws HardwareRecordInvalidError. */
export function decodeBenchmark (json: string): BenchmarkResult {
  return decode(benchmarkSchema, 'benchmark', json)
}
