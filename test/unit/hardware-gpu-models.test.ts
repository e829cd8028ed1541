// The GPU model table: it covers the parts the issue names, its figures are coherent, and the
// many names drivers print map to exactly one entry (or to "unknown", never to a guess).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { GPU_MODELS, gpuModelById, identifyGpu, normaliseGpuName } from '../../node/hardware/gpu-models.js'

function idOf (name: string, vramMiB: number | null): string {
  const r = identifyGpu(name, vramMiB)
  return r.known ? r.model.id : 'unknown'
}

test('the table covers H200, H100 SXM/PCIe, A100 40/80 SXM/PCIe, L40S, L4, A10, RTX 6000 Ada, RTX 4090/4080/3090/3080, T4, V100 16/32', () => {
  for (const id of ['h200-sxm', 'h100-sxm', 'h100-pcie', 'a100-sxm-40gb', 'a100-sxm-80gb', 'a100-pcie-40gb', 'a100-pcie-80gb', 'l40s', 'l4', 'a10', 'rtx-6000-ada',
    'rtx-4090', 'rtx-4080', 'rtx-3090', 'rtx-3080', 't4', 'v100-sxm2-16gb', 'v100-sxm2-32gb', 'v100-pcie-16gb', 'v100-pcie-32gb']) {
    assert.ok(gpuModelById(id), `missing ${id}`)
  }
})

test('ids and aliases are unique, figures positive, scores follow FP16 tensor throughput', () => {
  const ids = GPU_MODELS.map(m => m.id)
  assert.is(new Set(ids).size, ids.length, 'ids unique')
  const aliases = GPU_MODELS.flatMap(m => m.aliases)
  assert.is(new Set(aliases).size, aliases.length, 'no alias names two parts')
  for (const m of GPU_MODELS) {
    for (const alias of m.aliases) assert.is(normaliseGpuName(alias), alias, `alias "${alias}" of ${m.id} is already normalised`)
    assert.ok(m.vramGiB > 0 && m.fp32Tflops > 0 && m.fp16TensorTflops > m.fp32Tflops && m.memBandwidthGBps > 0, `${m.id} figures`)
  }
  const score = (id: string): number => gpuModelById(id)?.score ?? NaN
  assert.is(score('a100-sxm-80gb'), 100, 'A100 is the unit')
  assert.ok(score('h100-sxm') > score('h100-pcie') && score('h100-pcie') > score('a100-sxm-80gb'))
  assert.ok(score('h100-pcie') > score('l40s') && score('l40s') > score('a100-sxm-80gb'), 'Ada tensor cores out-run Ampere\'s')
  assert.ok(score('a100-sxm-80gb') > score('rtx-4090') && score('rtx-4090') > score('v100-sxm2-32gb') && score('v100-sxm2-32gb') > score('t4'), 'GeForce FP32-accumulate runs at half rate')
  assert.ok(score('v100-sxm2-16gb') > score('v100-pcie-16gb'), 'SXM2 clocks higher than PCIe')
})

test('names as nvidia-smi prints them', () => {
  assert.is(idOf('NVIDIA H100 80GB HBM3', 81559), 'h100-sxm')
  assert.is(idOf('NVIDIA H100 PCIe', 81559), 'h100-pcie')
  assert.is(idOf('NVIDIA H200', 143771), 'h200-sxm')
  assert.is(idOf('NVIDIA A100-SXM4-80GB', 81920), 'a100-sxm-80gb')
  assert.is(idOf('NVIDIA A100-SXM4-40GB', 40960), 'a100-sxm-40gb')
  assert.is(idOf('NVIDIA A100-PCIE-40GB', 40536), 'a100-pcie-40gb')
  assert.is(idOf('NVIDIA A100 80GB PCIe', 81920), 'a100-pcie-80gb')
  assert.is(idOf('NVIDIA L40S', 46068), 'l40s', 'ECC on: 1/16 of 48 GiB reserved')
  assert.is(idOf('NVIDIA L4', 23034), 'l4')
  assert.is(idOf('NVIDIA A10', 23028), 'a10')
  assert.is(idOf('NVIDIA RTX 6000 Ada Generation', 49140), 'rtx-6000-ada')
  assert.is(idOf('NVIDIA GeForce RTX 4090', 24564), 'rtx-4090')
  assert.is(idOf('NVIDIA GeForce RTX 4080', 16376), 'rtx-4080')
  assert.is(idOf('NVIDIA GeForce RTX 3090', 24576), 'rtx-3090')
  assert.is(idOf('NVIDIA GeForce RTX 3080', 10240), 'rtx-3080')
  assert.is(idOf('Tesla T4', 15360), 't4')
  assert.is(idOf('Tesla V100-SXM2-16GB', 16160), 'v100-sxm2-16gb')
  assert.is(idOf('Tesla V100-SXM2-32GB', 32510), 'v100-sxm2-32gb')
  assert.is(idOf('Tesla V100-PCIE-32GB', 32510), 'v100-pcie-32gb')
})

test('names as lspci (pci.ids) prints them, without a memory size', () => {
  assert.is(idOf('GA100 [A100 SXM4 80GB]', null), 'a100-sxm-80gb')
  assert.is(idOf('GH100 [H100 SXM5 80GB]', null), 'h100-sxm')
  assert.is(idOf('AD102 [GeForce RTX 4090]', null), 'rtx-4090')
  assert.is(idOf('TU104GL [Tesla T4]', null), 't4')
  assert.is(idOf('AD102GL [L40S]', null), 'l40s')
})

test('VRAM decides: a known name with memory that fits no entry is unknown', () => {
  assert.is(idOf('NVIDIA GeForce RTX 3080', 12288), 'unknown', 'the 12 GB 3080 is a different part')
  assert.is(idOf('NVIDIA GeForce RTX 4090', 49152), 'unknown', 'a modded 48 GB card is not promoted')
  assert.is(idOf('NVIDIA A100-SXM4-80GB', 40960), 'unknown', 'name and memory disagree')
  const r = identifyGpu('NVIDIA GeForce RTX 3080', 12288)
  assert.ok(!r.known && /12288 MiB matches no table entry/.test(r.reason))
})

test('near names are not guessed: other parts stay unknown', () => {
  for (const name of ['NVIDIA B200', 'NVIDIA H200 NVL', 'NVIDIA GeForce RTX 4090 D', 'NVIDIA GeForce RTX 4080 SUPER', 'Quadro RTX 6000', 'NVIDIA A10G', 'Tesla V100S-PCIE-32GB', 'NVIDIA A100', 'AMD Instinct MI300X', '']) {
    assert.is(idOf(name, null), 'unknown', name)
  }
  const r = identifyGpu('NVIDIA B200', 183359)
  assert.ok(!r.known && r.reason.includes('"NVIDIA B200" is not in the GPU model table'))
})

test.run()
