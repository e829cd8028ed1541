// Layers configuration: defaults < file < env `KAISAR_*` < flags, then validates the
// result with the one schema. An error names the key, where its value came from, and why.
import fs from 'node:fs/promises'
import { ConfigError, errorMessage, systemErrorCode } from '../errors.js'
import { configSchema, roleDefaults, type NodeConfig } from './schema.js'

type Kind = 'string' | 'int' | 'bool' | 'list'

/** Every key an operator can set outside the file, with its kind (how env/flag text is parsed). */
interface KeySpec { path: string, kind: Kind, flag?: string }

export const CONFIG_KEYS: readonly KeySpec[] = [
  { path: 'role', kind: 'string', flag: 'role' },
  { path: 'dataDir', kind: 'string', flag: 'dataDir' },
  { path: 'listen', kind: 'list', flag: 'listen' },
  { path: 'announce', kind: 'list', flag: 'announce' },
  { path: 'bootstrap', kind: 'list', flag: 'bootstrap' },
  { path: 'api', kind: 'string', flag: 'api' },
  { path: 'logLevel', kind: 'string', flag: 'logLevel' },
  { path: 'chain', kind: 'string', flag: 'chain' },
  { path: 'ledgerHost', kind: 'bool', flag: 'ledgerHost' },
  { path: 'ledgerPeer', kind: 'string', flag: 'ledgerPeer' },
  { path: 'passphrase', kind: 'string' },
  { path: 'peaq.escrow', kind: 'string', flag: 'peaqEscrow' },
  { path: 'peaq.namespace', kind: 'string' },
  { path: 'peaq.connectTimeoutMs', kind: 'int' },
  { path: 'region', kind: 'string', flag: 'region' },
  { path: 'network.maxConnections', kind: 'int' },
  { path: 'network.inboundConnectionThreshold', kind: 'int' },
  { path: 'network.dhtServer', kind: 'bool' },
  { path: 'network.connectionMonitorMs', kind: 'int' },
  { path: 'network.keepAliveMs', kind: 'int' },
  { path: 'network.gossipMesh.d', kind: 'int' },
  { path: 'network.gossipMesh.dLow', kind: 'int' },
  { path: 'network.gossipMesh.dHigh', kind: 'int' },
  { path: 'network.gossipMesh.dLazy', kind: 'int' },
  { path: 'network.gossipMesh.dOut', kind: 'int' },
  { path: 'network.gossipMesh.dScore', kind: 'int' },
  { path: 'network.relayServer', kind: 'bool' },
  { path: 'network.autonat', kind: 'bool' },
  { path: 'network.dcutr', kind: 'bool' },
  { path: 'network.websockets', kind: 'bool' },
  { path: 'provider.inventoryFile', kind: 'string', flag: 'inventoryFile' },
  { path: 'provider.benchmark', kind: 'string', flag: 'benchmark' },
  { path: 'provider.containers', kind: 'string', flag: 'containers' },
  { path: 'provider.stake', kind: 'string', flag: 'stake' },
  { path: 'checker.stake', kind: 'string' },
  { path: 'popw.epochMs', kind: 'int' },
  { path: 'popw.k', kind: 'int' },
  { path: 'popw.backups', kind: 'int' },
  { path: 'popw.challengeMs', kind: 'int' },
  { path: 'popw.challengeAllowanceMs', kind: 'int' },
  { path: 'popw.bandwidthBytes', kind: 'int' },
  { path: 'popw.reward', kind: 'string' },
  { path: 'popw.penalty', kind: 'string' },
  { path: 'heartbeat.intervalMs', kind: 'int', flag: 'heartbeatInterval' },
  { path: 'heartbeat.missedBeforeOffline', kind: 'int' }
]

/** `network.maxConnections` → `KAISAR_NETWORK_MAX_CONNECTIONS`. */
export function envName (keyPath: string): string {
  return 'KAISAR_' + keyPath.split('.').map(p => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2')).join('_').toUpperCase()
}

/** `heartbeatInterval` → `--heartbeat-interval`. */
function flagName (flag: string): string {
  return '--' + flag.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()
}

export interface ConfigSources {
  /** Path of a JSON config file (`--config`, or `KAISAR_CONFIG`). */
  file?: string
  env?: Record<string, string | undefined>
  /** Parsed CLI flags keyed by the `flag` names of CONFIG_KEYS (commander's camelCase). */
  flags?: Record<string, unknown>
}

type Tree = Record<string, unknown>

function setPath (tree: Tree, keyPath: string, value: unknown): void {
  const parts = keyPath.split('.')
  let node = tree
  for (const part of parts.slice(0, -1)) {
    const next = node[part]
    if (typeof next !== 'object' || next == null || Array.isArray(next)) node[part] = {}
    node = node[part] as Tree
  }
  node[parts[parts.length - 1] as string] = value
}

function getPath (tree: Tree, keyPath: string): unknown {
  let node: unknown = tree
  for (const part of keyPath.split('.')) {
    if (typeof node !== 'object' || node == null) return undefined
    node = (node as Tree)[part]
  }
  return node
}

/** Parses env text by kind; a value that does not parse is passed through so the schema names it. */
function parseText (text: string, kind: Kind): unknown {
  switch (kind) {
    case 'int': return /^-?\d+$/.test(text.trim()) ? Number(text) : text
    case 'bool': {
      const t = text.trim().toLowerCase()
      if (['1', 'true', 'yes', 'on'].includes(t)) return true
      if (['0', 'false', 'no', 'off'].includes(t)) return false
      return text
    }
    case 'list': return text.split(/[\s,]+/).filter(s => s.length > 0)
    default: return text
  }
}

async function readConfigFile (file: string): Promise<Tree> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err) {
    const code = systemErrorCode(err)
    throw new ConfigError('--config', code === 'ENOENT' ? `file ${file} does not exist` : `cannot read ${file}: ${errorMessage(err)}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ConfigError('--config', `${file} is not valid JSON: ${errorMessage(err)}`)
  }
  if (typeof parsed !== 'object' || parsed == null || Array.isArray(parsed)) {
    throw new ConfigError('--config', `${file} must hold a JSON object`)
  }
  return parsed as Tree
}

function deepMerge (base: Tree, over: Tree): Tree {
  const out: Tree = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const b = out[k]
    if (typeof v === 'object' && v != null && !Array.isArray(v) && typeof b === 'object' && b != null && !Array.isArray(b)) {
      out[k] = deepMerge(b as Tree, v as Tree)
    } else {
      out[k] = v
    }
  }
  return out
}

export async function loadConfig (sources: ConfigSources): Promise<NodeConfig> {
  const env = sources.env ?? {}
  const flags = sources.flags ?? {}
  const origin = new Map<string, string>()

  const file = sources.file ?? env.KAISAR_CONFIG
  let merged: Tree = {}
  if (file != null && file !== '') {
    merged = await readConfigFile(file)
    for (const key of CONFIG_KEYS) if (getPath(merged, key.path) !== undefined) origin.set(key.path, `file ${file}`)
  }
  for (const key of CONFIG_KEYS) {
    const name = envName(key.path)
    const text = env[name]
    if (text !== undefined && text !== '') {
      setPath(merged, key.path, parseText(text, key.kind))
      origin.set(key.path, `env ${name}`)
    }
  }
  for (const key of CONFIG_KEYS) {
    if (key.flag == null) continue
    const value = flags[key.flag]
    if (value !== undefined) {
      setPath(merged, key.path, key.kind === 'int' && typeof value === 'string' ? parseText(value, 'int') : value)
      origin.set(key.path, `flag ${flagName(key.flag)}`)
    }
  }

  const role = typeof merged.role === 'string' ? merged.role : undefined
  const withDefaults = deepMerge(roleDefaults(role), merged)
  if (withDefaults.role === undefined) throw new ConfigError('role', 'is required (--role provider|checker|gateway)')

  const result = configSchema.safeParse(withDefaults)
  if (!result.success) {
    const issue = result.error.issues[0]
    if (issue == null) throw new ConfigError('config', 'invalid')
    const keyPath = issue.path.filter(p => typeof p === 'string').join('.')
    const indexed = issue.path.map(p => typeof p === 'number' ? `[${p}]` : `.${String(p)}`).join('').replace(/^\./, '')
    const value = getPath(withDefaults, keyPath)
    const shown = issue.path.length > 0 ? JSON.stringify(getValueAt(withDefaults, issue.path)) : undefined
    const from = origin.get(keyPath)
    let reason = issue.code === 'unrecognized_keys' ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` : issue.message
    if (shown !== undefined && value !== undefined && issue.code !== 'unrecognized_keys') reason += ` (got ${shown}${from != null ? ` from ${from}` : ''})`
    else if (from != null) reason += ` (from ${from})`
    throw new ConfigError(indexed === '' ? 'config' : indexed, reason)
  }
  return result.data
}

function getValueAt (tree: Tree, p: ReadonlyArray<PropertyKey>): unknown {
  let node: unknown = tree
  for (const part of p) {
    if (typeof node !== 'object' || node == null) return undefined
    node = (node as Record<PropertyKey, unknown>)[part]
  }
  return node
}
