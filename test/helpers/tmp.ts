// Temp dirs that tests create and always remove.
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

const created = new Set<string>()

export async function tempDir (prefix = 'kaisar-test-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  created.add(dir)
  return dir
}

export async function removeTempDirs (): Promise<void> {
  await Promise.all([...created].map(async dir => { await fs.rm(dir, { recursive: true, force: true }) }))
  created.clear()
}
