// nvidia-smi is the ground truth for NVIDIA GPUs: the driver's own view of every device.
// We ask for a fixed list of fields as headerless, unitless CSV, parse it strictly (a driver
// or wrapper that answers something else is an error, not a guess), and tell "not installed",
// "no devices" and "broken" apart.
import { execCommand, type CommandResult, type CommandRunner } from './command.js'
import { NvidiaSmiError } from './errors.js'

/**
 * Fields every driver since R450 knows; an unknown field (e.g. `compute_cap` before R510)
 * makes nvidia-smi refuse the whole query, so nothing newer goes here. Order matters: it is
 * the column order of the output and of the fixtures in test/fixtures/nvidia-smi/.
 */
export const NVIDIA_SMI_FIELDS = ['index', 'name', 'uuid', 'memory.total', 'driver_version', 'pci.bus_id', 'power.limit', 'clocks.max.sm'] as const

export const NVIDIA_SMI_ARGS: readonly string[] = [`--query-gpu=${NVIDIA_SMI_FIELDS.join(',')}`, '--format=csv,noheader,nounits']

/** One row of nvidia-smi's answer. Optional figures are null where the driver says [N/A]. */
export interface NvidiaSmiGpu {
  index: number
  name: string
  uuid: string
  /** MiB (nvidia-smi's unit with `nounits`); null on unified-memory parts, which print [N/A]. */
  memoryTotalMiB: number | null
  driverVersion: string
  pciBusId: string
  powerLimitW: number | null
  maxSmClockMHz: number | null
}

/** What nvidia-smi says when the driver is loaded but sees no GPU (exit code 6). */
const NO_DEVICES = /No devices were found/i

/** nvidia-smi writes "[N/A]", "[Not Supported]", "[Unknown Error]", ... for figures it lacks. */
const UNAVAILABLE = /^\[[^\]]*\]$|^N\/A$/i

function invalid (line: number, message: string): NvidiaSmiError {
  return new NvidiaSmiError('NVIDIA_SMI_OUTPUT_INVALID', `unexpected output on line ${line}: ${message}`, { line })
}

function integer (value: string, field: string, line: number): number {
  if (!/^\d+$/.test(value)) throw invalid(line, `${field} is not a whole number (got ${JSON.stringify(value)})`)
  return Number(value)
}

function optionalNumber (value: string, field: string, line: number): number | null {
  if (UNAVAILABLE.test(value)) return null
  if (!/^\d+(\.\d+)?$/.test(value)) throw invalid(line, `${field} is not a number (got ${JSON.stringify(value)})`)
  return Number(value)
}

function matching (value: string, pattern: RegExp, field: string, line: number): string {
  if (!pattern.test(value)) throw invalid(line, `${field} is malformed (got ${JSON.stringify(value)})`)
  return value
}

/**
 * Parses the CSV that `nvidia-smi ${NVIDIA_SMI_ARGS}` prints. Pure: no process, no I/O.
 * "No devices were found" and empty output mean no GPUs; anything else that is not one
 * well-formed row per GPU throws NvidiaSmiError('NVIDIA_SMI_OUTPUT_INVALID').
 */
export function parseNvidiaSmiCsv (text: string): NvidiaSmiGpu[] {
  if (NO_DEVICES.test(text)) return []
  const gpus: NvidiaSmiGpu[] = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).trim()
    if (raw === '') continue
    const line = i + 1
    // Model names never contain commas, so a plain split is exact for this query.
    const cols = raw.split(',').map(c => c.trim())
    if (cols.length !== NVIDIA_SMI_FIELDS.length) throw invalid(line, `expected ${NVIDIA_SMI_FIELDS.length} comma-separated fields (${NVIDIA_SMI_FIELDS.join(', ')}), got ${cols.length}`)
    const [index, name, uuid, memory, driver, bus, power, clock] = cols as [string, string, string, string, string, string, string, string]
    if (name === '') throw invalid(line, 'name is empty')
    gpus.push({
      index: integer(index, 'index', line),
      name,
      uuid: matching(uuid, /^GPU-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i, 'uuid', line),
      memoryTotalMiB: UNAVAILABLE.test(memory) ? null : integer(memory, 'memory.total', line),
      driverVersion: matching(driver, /^\d+(\.\d+)+$/, 'driver_version', line),
      pciBusId: matching(bus, /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i, 'pci.bus_id', line),
      powerLimitW: optionalNumber(power, 'power.limit', line),
      maxSmClockMHz: optionalNumber(clock, 'clocks.max.sm', line)
    })
  }
  const indices = new Set(gpus.map(g => g.index))
  if (indices.size !== gpus.length) throw new NvidiaSmiError('NVIDIA_SMI_OUTPUT_INVALID', 'unexpected output: the same GPU index appears twice')
  return gpus
}

/** nvidia-smi's answer: not installed (no NVIDIA driver), or the GPUs it sees (maybe none). */
export type NvidiaSmiOutcome =
  | { present: false }
  | { present: true, gpus: NvidiaSmiGpu[] }

/** Turns one run of nvidia-smi into an outcome; throws NvidiaSmiError when it failed. */
export function interpretNvidiaSmi (result: CommandResult): NvidiaSmiOutcome {
  switch (result.status) {
    case 'not-found':
      return { present: false }
    case 'timed-out':
      throw new NvidiaSmiError('NVIDIA_SMI_TIMEOUT', 'did not answer in time (is the driver hung?)')
    case 'exited': {
      if (result.code === 0) return { present: true, gpus: parseNvidiaSmiCsv(result.stdout) }
      // The driver is loaded but sees no GPU: nvidia-smi exits 6 and says so.
      if (NO_DEVICES.test(result.stdout) || NO_DEVICES.test(result.stderr)) return { present: true, gpus: [] }
      const said = (result.stderr.trim() !== '' ? result.stderr : result.stdout).trim().split('\n')[0] ?? ''
      throw new NvidiaSmiError('NVIDIA_SMI_FAILED', `exited with ${result.code == null ? 'a signal' : `code ${result.code}`}${said !== '' ? `: ${said}` : ''}`, { detail: said })
    }
  }
}

/** Runs nvidia-smi (through `runner`, so tests can stand in for it) and interprets the answer. */
export async function queryNvidiaSmi (runner: CommandRunner = execCommand, timeoutMs = 10_000): Promise<NvidiaSmiOutcome> {
  return interpretNvidiaSmi(await runner('nvidia-smi', NVIDIA_SMI_ARGS, { timeoutMs }))
}
