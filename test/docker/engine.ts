// The real Docker engine the docker tier runs against, through scripts/docker-engine.sh (the same
// script CI and `kaisar-node devnet` use). A test file starts it in `before` and stops it in `after`
// only if that file started it (an engine already running belongs to someone else).
//
// uvu swallows an error thrown by a `before` hook (the file then reports no failure), so `start`
// never throws: it records the script's failure and every test's `ready()` rethrows it, and each
// test fails with the script's message.
import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Dockerode from 'dockerode'

export const SCRIPT = path.resolve(fileURLToPath(new URL('../../../scripts/docker-engine.sh', import.meta.url)))

export interface ScriptResult { code: number | null, stdout: string, stderr: string }

/** Runs scripts/docker-engine.sh with `args` (env added to this process's). */
export async function runScript (args: string[], env: Record<string, string> = {}, timeoutMs = 600_000): Promise<ScriptResult> {
  return await new Promise(resolve => {
    execFile(SCRIPT, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err == null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null
      resolve({ code, stdout, stderr })
    })
  })
}

/** `docker-engine: timing NAME=SECONDS` lines of the script's stderr. */
export function timingsOf (stderr: string): Record<string, number> {
  return Object.fromEntries([...stderr.matchAll(/^docker-engine: timing (\w+)=([\d.]+)$/gm)].map(m => [m[1] as string, Number(m[2])]))
}

export interface Engine {
  /** `unix:///…/docker.sock` */
  dockerHost: string
  socketPath: string
  /** This process started it (and so stops it). */
  startedHere: boolean
  timings: Record<string, number>
}

export class TestEngine {
  private engine?: Engine
  private failure?: Error

  constructor (private readonly env: Record<string, string> = {}) {}

  /** For `before`: uses a running engine or starts one; never throws (see above). */
  async start (): Promise<void> {
    try {
      // `start` is idempotent and (re)builds missing test images, so it runs either way; `status`
      // before it tells whether this process is the one starting the engine.
      const startedHere = (await runScript(['status'], this.env)).code !== 0
      const result = await runScript(['start'], this.env)
      const host = /^DOCKER_HOST=(unix:\/\/\S+)$/m.exec(result.stdout)?.[1]
      if (result.code !== 0 || host == null) {
        this.failure = new Error(`the Docker engine did not start (scripts/docker-engine.sh start exited ${String(result.code)}):\n${result.stderr.trim()}`)
        return
      }
      this.engine = { dockerHost: host, socketPath: host.slice('unix://'.length), startedHere, timings: timingsOf(result.stderr) }
      if (startedHere) console.log(`\n  started the Docker engine (${host}): ${JSON.stringify(this.engine.timings)}`)
    } catch (err) {
      this.failure = err as Error
    }
  }

  /** The engine, or the reason it is not there (which fails the calling test). */
  ready (): Engine {
    if (this.failure != null) throw this.failure
    if (this.engine == null) throw new Error('TestEngine.start() was not awaited in a before hook')
    return this.engine
  }

  /** The engine if it started, for hooks (which must not throw: uvu would drop the file's failures). */
  get running (): Engine | undefined { return this.engine }

  /** Direct engine access for checks that must not go through the code under test. */
  dockerode (): Dockerode {
    return new Dockerode({ socketPath: this.ready().socketPath, version: 'v1.41' })
  }

  /** For `after`: stops the engine if this process started it. */
  async stop (): Promise<void> {
    if (this.engine?.startedHere !== true) return
    const res = await runScript(['stop'], this.env)
    if (res.code !== 0) console.error(`scripts/docker-engine.sh stop exited ${String(res.code)}:\n${res.stderr}`)
  }
}
