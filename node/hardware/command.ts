// Runs the external tools the hardware code asks (nvidia-smi, docker) behind one small
// interface, so tests can play "present", "absent", "failing" and "hung" without the tools.
import { execFile } from 'node:child_process'
import { systemErrorCode } from '../errors.js'

/** What came of running a command. Never rejects for the command's own failures. */
export type CommandResult =
  /** The binary is not installed (ENOENT on PATH lookup). */
  | { status: 'not-found' }
  /** It ran to completion; `code` is null when a signal ended it. */
  | { status: 'exited', code: number | null, stdout: string, stderr: string }
  /** It was still running at the deadline and was killed. */
  | { status: 'timed-out', stdout: string, stderr: string }

export interface CommandOptions {
  timeoutMs: number
  env?: NodeJS.ProcessEnv
}

export type CommandRunner = (file: string, args: readonly string[], options: CommandOptions) => Promise<CommandResult>

/** Output beyond this is a tool gone wrong, not an answer: 8 GPUs of CSV are < 2 KiB. */
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024

/** The real runner: execFile (no shell, so nothing in the arguments is interpreted). */
export const execCommand: CommandRunner = async (file, args, options) => {
  return await new Promise<CommandResult>(resolve => {
    execFile(file, [...args], { timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT_BYTES, env: options.env ?? process.env, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err == null) { resolve({ status: 'exited', code: 0, stdout, stderr }); return }
      const sysCode = systemErrorCode(err)
      if (sysCode === 'ENOENT') { resolve({ status: 'not-found' }); return }
      // Too much output: killed by execFile, but not a timeout. Report it as a failed run.
      if (sysCode === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') { resolve({ status: 'exited', code: null, stdout: '', stderr: `output exceeded ${MAX_OUTPUT_BYTES} bytes` }); return }
      // execFile sets `killed` when its own timeout fired; an exit code is a number otherwise.
      if ((err as { killed?: boolean }).killed === true) { resolve({ status: 'timed-out', stdout, stderr }); return }
      const code = (err as { code?: unknown }).code
      resolve({ status: 'exited', code: typeof code === 'number' ? code : null, stdout, stderr })
    })
  })
}
