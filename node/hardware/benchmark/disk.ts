// Disk stage: sequential write then read of a temp file in the directory containers' data
// would live in. Writes are fsync'd every few chunks and the fsyncs are timed, so the figure
// is the disk's, not the page cache's. Reads use O_DIRECT where the filesystem allows it
// (reading back a file just written would otherwise come from memory); the result says which.
// The file is removed whatever happens.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { constants } from 'node:fs'
import path from 'node:path'
import { systemErrorCode } from '../../errors.js'
import { BenchmarkError } from '../errors.js'
import type { StageResult } from '../schema.js'
import { round } from './cpu.js'

const CHUNK_BYTES = 4 * 1024 * 1024
/** fsync after this much: bounds the dirty data a final fsync could still have to flush. */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024
const TMPFS_MAGIC = 0x01021994

export interface DiskBenchmarkOptions {
  dir: string
  /** Budget for each of write and read. */
  durationMs: number
  /** The file never grows beyond this (quick mode keeps it small). */
  maxFileMiB: number
}

export async function benchmarkDisk (options: DiskBenchmarkOptions): Promise<StageResult<'disk'>> {
  const wallStart = performance.now()
  const dir = path.resolve(options.dir)
  const file = path.join(dir, `.kaisar-disk-bench-${process.pid}-${randomBytes(4).toString('hex')}.tmp`)
  let handle: fs.FileHandle
  try {
    handle = await fs.open(file, 'wx', 0o600)
  } catch (err) {
    throw new BenchmarkError('BENCHMARK_DIR_UNWRITABLE', 'disk', `cannot create a file in ${dir} (${systemErrorCode(err) ?? (err as Error).message})`)
  }
  try {
    const tmpfs = (await fs.statfs(dir)).type === TMPFS_MAGIC
    let written: { bytes: number, elapsedMs: number }
    try {
      written = await writeFor(handle, options.durationMs, options.maxFileMiB * 1024 * 1024)
    } finally {
      await handle.close()
    }
    const read = await readBack(file, options.durationMs)
    return {
      status: 'ok',
      durationMs: Math.round(performance.now() - wallStart),
      dir,
      fileMiB: round(written.bytes / 1024 / 1024),
      writeMBps: round(written.bytes / (written.elapsedMs / 1000) / 1e6),
      readMBps: round(read.bytes / (read.elapsedMs / 1000) / 1e6),
      readDirect: read.direct,
      tmpfs
    }
  } finally {
    await fs.rm(file, { force: true })
  }
}

async function writeFor (handle: fs.FileHandle, durationMs: number, maxBytes: number): Promise<{ bytes: number, elapsedMs: number }> {
  // Random content: a compressing or deduplicating filesystem must still write every byte.
  const chunk = randomBytes(CHUNK_BYTES)
  let bytes = 0
  let unsynced = 0
  const start = performance.now()
  while (bytes < maxBytes && (bytes === 0 || performance.now() - start < durationMs)) {
    await handle.write(chunk, 0, chunk.length, bytes)
    bytes += chunk.length
    unsynced += chunk.length
    if (unsynced >= SYNC_EVERY_BYTES) { await handle.sync(); unsynced = 0 }
  }
  await handle.sync()
  return { bytes, elapsedMs: performance.now() - start }
}

/**
 * Reads the file back sequentially. O_DIRECT wants the buffer's address aligned to the
 * device's block size, and JavaScript cannot see addresses: we find the aligned offset in an
 * oversized buffer by trying (the kernel answers EINVAL until it is aligned; a few hundred
 * cheap tries at most). Filesystems without O_DIRECT (tmpfs) fall back to a cached read.
 */
async function readBack (file: string, durationMs: number): Promise<{ bytes: number, elapsedMs: number, direct: boolean }> {
  const buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES + 4096)
  let handle: fs.FileHandle | undefined
  let offset = 0
  let direct = false
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_DIRECT)
    offset = await alignedOffset(handle, buffer)
    direct = offset >= 0
    if (!direct) { await handle.close(); handle = undefined }
  } catch (err) {
    if (systemErrorCode(err) !== 'EINVAL') throw err
    handle = undefined
  }
  handle ??= await fs.open(file, 'r')
  if (!direct) offset = 0
  try {
    let bytes = 0
    const start = performance.now()
    for (;;) {
      const { bytesRead } = await handle.read(buffer, offset, CHUNK_BYTES, bytes)
      bytes += bytesRead
      if (bytesRead < CHUNK_BYTES || performance.now() - start >= durationMs) break
    }
    return { bytes, elapsedMs: performance.now() - start, direct }
  } finally {
    await handle.close()
  }
}

/** The first offset into `buffer` at which an O_DIRECT read is accepted, or -1. */
async function alignedOffset (handle: fs.FileHandle, buffer: Buffer): Promise<number> {
  for (let offset = 0; offset < 4096; offset += 8) {
    try {
      await handle.read(buffer, offset, 4096, 0)
      return offset
    } catch (err) {
      if (systemErrorCode(err) !== 'EINVAL') throw err
    }
  }
  return -1
}
