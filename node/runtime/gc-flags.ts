// V8 flags for the processes that carry tunnel bytes, and the re-exec that applies them.
//
// Why: on the spliced tunnel (user → gateway → provider), V8's concurrent marking on its helper
// threads cost each end 3–4 CPU ms/MiB on top of an event loop of 3–4 ms/MiB, on a 2-core
// machine where those threads compete with the other processes in the path. With
// `--single-threaded-gc` the event loop's own cost per MiB did not grow, the helper-thread cost
// went to ≈ 0, and the spliced tunnel ran 1.3–2.7× faster in 18 of 18 same-run rounds
// (bench/TUNNEL.md, "GC on the event loop", 2026-11-22). The gateway alone gains nothing; the
// two ends do. RTT p50/p99 showed no consistent change.
//
// And a young generation of at most 4 MiB a semi-space (V8 lets it grow to 16 on 64-bit): every
// Noise message is a fresh 64 KiB ArrayBuffer from node:crypto, whose small JS wrapper lives in
// the young generation, so its memory is freed only at the next scavenge. With the default, the
// spliced user's node held 50–100 MiB of dead ciphertext between scavenges (process.memoryUsage()
// .arrayBuffers, sampled), touched fresh memory for every message (4× the page faults of the
// direct user) and ran its cipher and GC 2.4× and 3× slower for the same bytes (CPU profiles);
// with 4 MiB its CPU per MiB fell from 2.7–3.7 to 1.5–1.9 and the spliced tunnel ran 1.27–1.55×
// faster in 6 of 6 same-run rounds (bench/TUNNEL.md, stop 25).
//
// How: the flag is startup-only. NODE_OPTIONS refuses it, and `v8.setFlagsFromString` at run
// time aborts V8 at the first mark-compact ("Check failed: concurrent_marking_handle_ ...",
// measured on Node 22.23). So bin/kaisar-node.js replaces the process (`process.execve`: same
// pid, stdio and signals, no second process) with one started with the flags, before loading
// anything else. Node without `process.execve` (< 22.15, Windows) runs as before.
// Not re-executed: a process with an IPC channel (its fd is close-on-exec; the spawner passes the
// flags itself, as devnet does), commands that carry no tunnel bytes (short CLI calls, `sim`
// with its large heaps), and KAISAR_SINGLE_THREADED_GC=0.

/** The flags the data-path commands run with. */
export const DATA_PATH_NODE_FLAGS: readonly string[] = ['--single-threaded-gc', '--max-semi-space-size=4']

/** A node option's name: `--max-semi-space-size=16` → `--max-semi-space-size`. */
const flagName = (flag: string): string => flag.split('=')[0] as string

/** Commands that forward tunnel bytes: `start` (provider, gateway), `connect` (the user's end). */
export const DATA_PATH_COMMANDS: readonly string[] = ['start', 'connect']

export interface ReexecInput {
  /** process.argv: [node, script, command, ...]. */
  argv: readonly string[]
  execArgv: readonly string[]
  env: Readonly<Record<string, string | undefined>>
  /** Whether the process has an IPC channel (process.channel != null). */
  hasIpc: boolean
}

/**
 * The argv (execPath first) to re-execute with, or undefined when this process should run as it
 * is: not a data-path command, the flags already given (by name: a value the user chose stays),
 * an IPC channel, or opted out.
 */
export function reexecArgv (execPath: string, input: ReexecInput): string[] | undefined {
  const command = input.argv[2]
  if (command == null || !DATA_PATH_COMMANDS.includes(command)) return undefined
  if (input.env.KAISAR_SINGLE_THREADED_GC === '0' || input.hasIpc) return undefined
  const given = new Set(input.execArgv.map(flagName))
  const missing = DATA_PATH_NODE_FLAGS.filter(f => !given.has(flagName(f)))
  if (missing.length === 0) return undefined
  return [execPath, ...missing, ...input.execArgv, ...input.argv.slice(1)]
}

/**
 * Replaces this process with one running the data-path flags, when reexecArgv says so and the
 * platform can (`process.execve`). Returns only when it did not re-execute.
 */
export function reexecWithDataPathFlags (): void {
  const args = reexecArgv(process.execPath, { argv: process.argv, execArgv: process.execArgv, env: process.env, hasIpc: process.channel != null })
  const execve = (process as { execve?: (file: string, args?: readonly string[], env?: NodeJS.ProcessEnv) => never }).execve
  if (args == null || typeof execve !== 'function') return
  try {
    execve.call(process, process.execPath, args, process.env)
  } catch {
    // ERR_FEATURE_UNAVAILABLE_ON_PLATFORM or a failed execve(2): run without the flags.
  }
}
