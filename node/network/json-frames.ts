// JSON frames on length-prefixed streams (the request/response and event-stream protocols):
// bigints travel as decimal strings; every frame read is validated by a zod schema.
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { KaisarError } from '../errors.js'
import type { AbortOptions, Stream } from '@libp2p/interface'
import type { z } from 'zod'

export const MAX_FRAME_BYTES = 1024 * 1024

export class FrameError extends KaisarError<{ code: 'MALFORMED_FRAME' }> {
  constructor (message: string) { super({ code: 'MALFORMED_FRAME' }, message) }
}

export function encodeJson (value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v))
}

export function decodeJson<S extends z.ZodType> (bytes: Uint8Array, schema: S): z.infer<S> {
  let value: unknown
  try { value = JSON.parse(Buffer.from(bytes).toString('utf8')) } catch (err) { throw new FrameError(`not JSON: ${(err as Error).message}`) }
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new FrameError(`invalid: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'schema'}`)
  }
  return parsed.data
}

export class JsonFrames {
  readonly lp: LengthPrefixedStream<Stream>
  constructor (readonly stream: Stream, maxDataLength = MAX_FRAME_BYTES) {
    this.lp = lpStream(stream, { maxDataLength })
  }

  async write (value: unknown, options?: AbortOptions): Promise<void> {
    await this.lp.write(encodeJson(value), options)
  }

  async read<S extends z.ZodType>(schema: S, options?: AbortOptions): Promise<z.infer<S>> {
    return decodeJson((await this.lp.read(options)).subarray(), schema)
  }
}
