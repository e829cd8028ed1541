// Typed errors of the hardware subsystem (inventory, nvidia-smi, benchmark), in the style of
// node/errors.ts: one class per concern, a `code` callers switch on, metadata for logs.
import { KaisarError } from '../errors.js'

/**
 * nvidia-smi ran but its answer cannot be used. The inventory catches it, reports it next to an
 * empty GPU list, and carries on: a broken driver must not stop a CPU-only provider.
 */
export type NvidiaSmiErrorCode =
  /** The output is not the CSV we asked for (wrong field count, non-numeric memory, ...). */
  | 'NVIDIA_SMI_OUTPUT_INVALID'
  /** nvidia-smi exited non-zero for a reason other than "no devices" (driver not loaded, ...). */
  | 'NVIDIA_SMI_FAILED'
  /** nvidia-smi did not answer in time (a hung driver does this). */
  | 'NVIDIA_SMI_TIMEOUT'

export class NvidiaSmiError extends KaisarError<{ code: NvidiaSmiErrorCode, line?: number, detail?: string }> {
  constructor (code: NvidiaSmiErrorCode, message: string, meta: { line?: number, detail?: string } = {}) {
    super({ code, ...meta }, `nvidia-smi: ${message}`)
  }
}

/** An inventory or benchmark result (ours before signing, or a peer's from its record) fails its schema. */
export class HardwareRecordInvalidError extends KaisarError<{ code: 'HARDWARE_RECORD_INVALID', what: 'inventory' | 'benchmark' | 'gpu-benchmark', issue: string }> {
  constructor (what: 'inventory' | 'benchmark' | 'gpu-benchmark', issue: string) {
    super({ code: 'HARDWARE_RECORD_INVALID', what, issue }, `${what}: invalid: ${issue}`)
  }
}

/** A benchmark stage could not run as asked. Stages catch it and report the stage as failed. */
export type BenchmarkErrorCode =
  /** The disk benchmark's directory is missing or not writable. */
  | 'BENCHMARK_DIR_UNWRITABLE'
  /** A stage overran its budget by far (a stuck worker, a hung probe) and was stopped. */
  | 'BENCHMARK_STAGE_TIMEOUT'
  /** The caller aborted the job. */
  | 'BENCHMARK_ABORTED'

export class BenchmarkError extends KaisarError<{ code: BenchmarkErrorCode, stage: string, detail?: string }> {
  constructor (code: BenchmarkErrorCode, stage: string, message: string, detail?: string) {
    super({ code, stage, detail }, `benchmark ${stage}: ${message}`)
  }
}
