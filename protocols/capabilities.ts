// Capability keys: what a provider `provide()`s in the DHT so others can find it by what it
// has (DESIGN §1.1): every provider under `provider`, and under its GPU models, GPU classes,
// `cpu-only`, and its region. A key is the CID (raw, sha256) of `kaisar/cap/1/<kind>/<value>`.
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { createHash } from 'node:crypto'

export type CapabilityKind = 'provider' | 'gpu-model' | 'gpu-class' | 'cpu-only' | 'region'

export interface Capability { kind: CapabilityKind, value: string }

const SHA256 = 0x12

export function capabilityCid (cap: Capability): CID {
  const bytes = createHash('sha256').update(`kaisar/cap/1/${cap.kind}/${cap.value.toLowerCase()}`).digest()
  return CID.createV1(raw.code, createDigest(SHA256, bytes))
}

export function capabilityName (cap: Capability): string {
  return cap.value === '' ? cap.kind : `${cap.kind}:${cap.value}`
}

/** The keys a provider with these GPUs (model ids, "unknown" for parts not in the table), classes and region is found under. */
export function providerCapabilities (input: { gpuModels: readonly string[], gpuClasses: readonly string[], region: string }): Capability[] {
  const caps: Capability[] = [{ kind: 'provider', value: '' }]
  for (const model of new Set(input.gpuModels)) if (model !== 'unknown') caps.push({ kind: 'gpu-model', value: model })
  for (const cls of new Set(input.gpuClasses)) caps.push({ kind: 'gpu-class', value: cls })
  if (input.gpuModels.length === 0) caps.push({ kind: 'cpu-only', value: '' })
  if (input.region !== '') caps.push({ kind: 'region', value: input.region })
  return caps
}
