// The data dir: keys, libp2p's datastore (peer store, DHT records) and the node's own
// state, each in its own LevelDB so that one job's data never mixes with another's.
import fs from 'node:fs/promises'
import path from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { Level } from 'level'
import { StartupError, errorMessage, systemErrorCode } from '../errors.js'
import type { StateDb } from './state-db.js'

export interface DataDirLayout {
  root: string
  /** libp2p datastore (peer store, DHT records). */
  p2p: string
  /** The node's state: leases, verdicts, outcomes, ledger, outbox. */
  state: string
}

export function dataDirLayout (root: string): DataDirLayout {
  const abs = path.resolve(root)
  return { root: abs, p2p: path.join(abs, 'p2p'), state: path.join(abs, 'state') }
}

/** Creates the data dir if needed and proves it writable, so a bad path fails before anything starts. */
export async function prepareDataDir (root: string): Promise<DataDirLayout> {
  const layout = dataDirLayout(root)
  const probe = path.join(layout.root, `.write-probe-${process.pid}`)
  try {
    await fs.mkdir(layout.root, { recursive: true, mode: 0o700 })
    await fs.writeFile(probe, 'ok')
    await fs.rm(probe)
  } catch (err) {
    const code = systemErrorCode(err)
    const why = code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'ENOTDIR' || code === 'EEXIST'
        ? 'a path component is not a directory'
        : code === 'EROFS' ? 'read-only file system' : errorMessage(err)
    throw new StartupError('DATA_DIR_UNWRITABLE', `data dir ${layout.root} is not writable: ${why}`, code)
  }
  return layout
}

function isLockError (err: unknown): boolean {
  for (let e: unknown = err; e != null; e = (e as { cause?: unknown }).cause) {
    if (systemErrorCode(e) === 'LEVEL_LOCKED') return true
  }
  return false
}

function lockedError (where: string): StartupError {
  return new StartupError('DATA_DIR_LOCKED', `data dir ${where} is in use by another kaisar-node process (stop it, or use another --data-dir)`)
}

export async function openStateDb (layout: DataDirLayout): Promise<StateDb> {
  const db: StateDb = new Level<string, Uint8Array>(layout.state, { valueEncoding: 'view' })
  try {
    await db.open()
  } catch (err) {
    if (isLockError(err)) throw lockedError(layout.root)
    throw new StartupError('DATA_DIR_UNWRITABLE', `cannot open ${layout.state}: ${errorMessage(err)}`)
  }
  return db
}

export async function openP2pDatastore (layout: DataDirLayout): Promise<LevelDatastore> {
  const store = new LevelDatastore(layout.p2p)
  try {
    await store.open()
  } catch (err) {
    if (isLockError(err)) throw lockedError(layout.root)
    throw new StartupError('DATA_DIR_UNWRITABLE', `cannot open ${layout.p2p}: ${errorMessage(err)}`)
  }
  return store
}
