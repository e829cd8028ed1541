import fs from 'node:fs/promises'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { StartupError } from '../../node/errors.js'
import { KEYSTORE_FILE, loadOrCreateIdentity } from '../../node/identity/keystore.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'

test.after(removeTempDirs)

test('keys are created once and reloaded identically', async () => {
  const dir = await tempDir()
  const a = await loadOrCreateIdentity(dir)
  const b = await loadOrCreateIdentity(dir)
  assert.is(a.peerId.toString(), b.peerId.toString())
  assert.is(a.wallet.address, b.wallet.address)
  assert.is(a.peerId.type, 'Ed25519')
  assert.is(a.wallet.type, 'sr25519')
  const stat = await fs.stat(path.join(dir, KEYSTORE_FILE))
  assert.is(stat.mode & 0o777, 0o600, 'keystore readable by the owner only')
})

test('a passphrase encrypts the keystore at rest', async () => {
  const dir = await tempDir()
  const a = await loadOrCreateIdentity(dir, 'correct horse')
  const text = await fs.readFile(path.join(dir, KEYSTORE_FILE), 'utf8')
  assert.not.match(text, /peerKey|walletMnemonic/)
  const b = await loadOrCreateIdentity(dir, 'correct horse')
  assert.is(b.peerId.toString(), a.peerId.toString())
  assert.is(b.wallet.address, a.wallet.address)
  for (const wrong of ['wrong', undefined]) {
    try {
      await loadOrCreateIdentity(dir, wrong)
      assert.unreachable('wrong passphrase accepted')
    } catch (err) {
      assert.instance(err, StartupError)
      assert.is((err as StartupError).code, 'PASSPHRASE_WRONG')
    }
  }
})

test('a damaged keystore is a clear error, not a new identity', async () => {
  const dir = await tempDir()
  await fs.writeFile(path.join(dir, KEYSTORE_FILE), '{"version":1,')
  try {
    await loadOrCreateIdentity(dir)
    assert.unreachable('damaged keystore accepted')
  } catch (err) {
    assert.instance(err, StartupError)
    assert.match((err as Error).message, /not valid JSON/)
  }
  assert.is(await fs.readFile(path.join(dir, KEYSTORE_FILE), 'utf8'), '{"version":1,', 'left untouched')
})

test.run()
