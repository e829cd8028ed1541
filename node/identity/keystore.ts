// The node's two keys, created on first start and kept in the data dir:
//  - an Ed25519 libp2p key: the PeerId, Noise identity, signer of gossip and DHT records;
//  - a wallet key (sr25519 by default, Substrate-style): pays, stakes and signs ledger transactions.
// With a passphrase, the file is encrypted at rest (scrypt + AES-256-GCM).
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Keyring } from '@polkadot/keyring'
import { cryptoWaitReady, mnemonicGenerate, mnemonicValidate } from '@polkadot/util-crypto'
import { StartupError, errorMessage, systemErrorCode } from '../errors.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { FastEd25519Signer, SS58_PREFIX, type TxSigner } from './signer.js'
import type { KeyringPair } from '@polkadot/keyring/types'

export const KEYSTORE_FILE = 'keys.json'
export type WalletKeyType = 'sr25519' | 'ed25519'

export { SS58_PREFIX }

export interface NodeIdentity {
  privateKey: PrivateKey
  peerId: PeerId
  /** A KeyringPair for a node process; the simulator uses fast in-memory Ed25519 wallets. */
  wallet: TxSigner
}

/** An identity that lives only in memory (simulated nodes, benchmarks). */
export async function ephemeralIdentity (): Promise<NodeIdentity> {
  const privateKey = await generateKeyPair('Ed25519')
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey), wallet: FastEd25519Signer.random() }
}

interface Secrets { peerKey: string, walletMnemonic: string, walletType: WalletKeyType }

interface PlainFile extends Secrets { version: 1, encrypted: false }
interface EncryptedFile {
  version: 1
  encrypted: true
  kdf: { name: 'scrypt', salt: string, N: number, r: number, p: number }
  cipher: 'aes-256-gcm'
  iv: string
  tag: string
  ciphertext: string
}
type KeystoreFile = PlainFile | EncryptedFile

const SCRYPT = { N: 2 ** 15, r: 8, p: 1 }

function deriveKey (passphrase: string, salt: Buffer, params: { N: number, r: number, p: number }): Buffer {
  return crypto.scryptSync(passphrase.normalize('NFKC'), salt, 32, { ...params, maxmem: 256 * params.N * params.r })
}

function encrypt (secrets: Secrets, passphrase: string): EncryptedFile {
  const salt = crypto.randomBytes(16)
  const iv = crypto.randomBytes(12)
  const cipher = crypto.createCipheriv('aes-256-gcm', deriveKey(passphrase, salt, SCRYPT), iv)
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final()])
  return {
    version: 1,
    encrypted: true,
    kdf: { name: 'scrypt', salt: salt.toString('base64'), ...SCRYPT },
    cipher: 'aes-256-gcm',
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64')
  }
}

function decrypt (file: EncryptedFile, passphrase: string | undefined, where: string): Secrets {
  if (passphrase == null || passphrase === '') {
    throw new StartupError('PASSPHRASE_WRONG', `${where} is encrypted: set KAISAR_PASSPHRASE (or "passphrase" in the config file)`)
  }
  const key = deriveKey(passphrase, Buffer.from(file.kdf.salt, 'base64'), file.kdf)
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(file.iv, 'base64'))
  decipher.setAuthTag(Buffer.from(file.tag, 'base64'))
  try {
    const plain = Buffer.concat([decipher.update(Buffer.from(file.ciphertext, 'base64')), decipher.final()])
    return JSON.parse(plain.toString('utf8')) as Secrets
  } catch {
    throw new StartupError('PASSPHRASE_WRONG', `${where}: wrong passphrase`)
  }
}

function parseKeystore (text: string, where: string): KeystoreFile {
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch (err) {
    throw new StartupError('KEYSTORE_INVALID', `${where} is not valid JSON (${errorMessage(err)}); restore it from a backup, or move it away to create new keys`)
  }
  const file = parsed as Partial<KeystoreFile>
  if (file.version !== 1 || typeof file.encrypted !== 'boolean') {
    throw new StartupError('KEYSTORE_INVALID', `${where} is not a kaisar keystore (version 1)`)
  }
  return file as KeystoreFile
}

/** Writes a file so that a crash leaves either the old or the new content, never a torn one. */
export async function writeFileAtomic (file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  const handle = await fs.open(tmp, 'w', mode)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fs.rename(tmp, file)
}

export function walletFromMnemonic (mnemonic: string, type: WalletKeyType = 'sr25519'): KeyringPair {
  return new Keyring({ type, ss58Format: SS58_PREFIX }).addFromMnemonic(mnemonic)
}

async function materialise (secrets: Secrets, where: string): Promise<NodeIdentity> {
  let privateKey: PrivateKey
  try {
    privateKey = privateKeyFromProtobuf(Buffer.from(secrets.peerKey, 'base64'))
  } catch (err) {
    throw new StartupError('KEYSTORE_INVALID', `${where}: peer key is unreadable (${errorMessage(err)})`)
  }
  if (!mnemonicValidate(secrets.walletMnemonic)) throw new StartupError('KEYSTORE_INVALID', `${where}: wallet mnemonic is invalid`)
  await cryptoWaitReady()
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey), wallet: walletFromMnemonic(secrets.walletMnemonic, secrets.walletType) }
}

/** Loads the keys from `dataDir`, creating them on first start. */
export async function loadOrCreateIdentity (dataDir: string, passphrase?: string): Promise<NodeIdentity> {
  const file = path.join(dataDir, KEYSTORE_FILE)
  let text: string | undefined
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err) {
    if (systemErrorCode(err) !== 'ENOENT') throw new StartupError('DATA_DIR_UNWRITABLE', `cannot read ${file}: ${errorMessage(err)}`)
  }
  if (text != null) {
    const stored = parseKeystore(text, file)
    const secrets = stored.encrypted ? decrypt(stored, passphrase, file) : stored
    return await materialise(secrets, file)
  }

  await cryptoWaitReady()
  const privateKey = await generateKeyPair('Ed25519')
  const secrets: Secrets = {
    peerKey: Buffer.from(privateKeyToProtobuf(privateKey)).toString('base64'),
    walletMnemonic: mnemonicGenerate(12),
    walletType: 'sr25519'
  }
  const content: KeystoreFile = passphrase != null && passphrase !== '' ? encrypt(secrets, passphrase) : { version: 1, encrypted: false, ...secrets }
  await writeFileAtomic(file, JSON.stringify(content, null, 2) + '\n')
  return await materialise(secrets, file)
}
