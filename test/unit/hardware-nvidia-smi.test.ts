// Issue 4, done-when 2: recorded nvidia-smi outputs parse into the right models, counts and
// VRAM; garbage gives a typed error, not a crash; and the inventory's GPU probe handles
// nvidia-smi present, absent, failing, hung and lying, through an injected runner.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { NvidiaSmiError } from '../../node/hardware/errors.js'
import { computeGpusOnPci, probeGpus, type SystemSource } from '../../node/hardware/inventory.js'
import { NVIDIA_SMI_ARGS, NVIDIA_SMI_FIELDS, interpretNvidiaSmi, parseNvidiaSmiCsv } from '../../node/hardware/nvidia-smi.js'
import { fakeRunner, fixture, smiExit } from '../helpers/hardware.js'

function parseError (text: string): NvidiaSmiError {
  try {
    parseNvidiaSmiCsv(text)
  } catch (err) {
    assert.instance(err, NvidiaSmiError)
    return err as NvidiaSmiError
  }
  assert.unreachable(`expected an NvidiaSmiError for ${JSON.stringify(text.slice(0, 60))}`)
  throw new Error('unreachable')
}

/** A systeminformation stand-in for the PCI fallback; only graphics() is ever asked. */
function pciBus (controllers: Array<{ vendor: string, model: string, pciBus?: string }>): SystemSource {
  const unused = async (): Promise<never> => { throw new Error('not used by probeGpus') }
  return { cpu: unused, mem: unused, blockDevices: unused, diskLayout: unused, osInfo: unused, networkInterfaces: unused, graphics: async () => ({ controllers }) }
}

test('the query asks for the fields the parser reads, as headerless unitless CSV', () => {
  assert.equal(NVIDIA_SMI_ARGS, [`--query-gpu=${NVIDIA_SMI_FIELDS.join(',')}`, '--format=csv,noheader,nounits'])
})

test('1× H100: one GPU, model h100-sxm, 81559 MiB, every field read', async () => {
  const gpus = parseNvidiaSmiCsv(fixture('h100-1x.csv'))
  assert.equal(gpus, [{ index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-5a3c1b2e-8f4d-4e6a-9b7c-2d1e0f3a4b5c', memoryTotalMiB: 81559, driverVersion: '535.129.03', pciBusId: '00000000:18:00.0', powerLimitW: 700, maxSmClockMHz: 1980 }])
  const probe = await probeGpus({ runner: fakeRunner({ 'nvidia-smi': smiExit('h100-1x.csv', 0) }) })
  assert.equal(probe.gpus.map(g => [g.model, g.vramMiB, g.vendor]), [['h100-sxm', 81559, 'nvidia']])
  assert.equal(probe.gpuProbe, { source: 'nvidia-smi', error: null })
})

test('1× RTX 4090: model rtx-4090, 24564 MiB', async () => {
  const probe = await probeGpus({ runner: fakeRunner({ 'nvidia-smi': smiExit('rtx4090-1x.csv', 0) }) })
  assert.equal(probe.gpus.map(g => [g.index, g.name, g.model, g.vramMiB, g.driverVersion]), [[0, 'NVIDIA GeForce RTX 4090', 'rtx-4090', 24564, '550.54.14']])
})

test('2× A100 80GB: two GPUs, both a100-sxm-80gb with 81920 MiB, distinct UUIDs and buses', async () => {
  const probe = await probeGpus({ runner: fakeRunner({ 'nvidia-smi': smiExit('a100-80gb-2x.csv', 0) }) })
  assert.is(probe.gpus.length, 2)
  assert.equal(probe.gpus.map(g => [g.index, g.model, g.vramMiB]), [[0, 'a100-sxm-80gb', 81920], [1, 'a100-sxm-80gb', 81920]])
  assert.is(new Set(probe.gpus.map(g => g.uuid)).size, 2)
  assert.equal(probe.gpus.map(g => g.pciBusId), ['00000000:07:00.0', '00000000:0F:00.0'])
})

test('none: "No devices were found" (exit 6) is zero GPUs from nvidia-smi, not an error', async () => {
  assert.equal(parseNvidiaSmiCsv(fixture('none.txt')), [])
  const probe = await probeGpus({ runner: fakeRunner({ 'nvidia-smi': smiExit('none.txt', 6) }) })
  assert.equal(probe, { gpus: [], gpuProbe: { source: 'nvidia-smi', error: null } })
})

test('garbage: the human table instead of CSV is NVIDIA_SMI_OUTPUT_INVALID naming the line', async () => {
  const err = parseError(fixture('garbage.txt'))
  assert.is(err.code, 'NVIDIA_SMI_OUTPUT_INVALID')
  assert.is(err.type.line, 1)
  assert.match(err.message, /^nvidia-smi: unexpected output on line 1: expected 8 comma-separated fields/)
  // In the inventory: reported, with no GPUs, and nothing thrown.
  const probe = await probeGpus({ runner: fakeRunner({ 'nvidia-smi': smiExit('garbage.txt', 0) }) })
  assert.equal(probe.gpus, [])
  assert.is(probe.gpuProbe.source, 'nvidia-smi')
  assert.is(probe.gpuProbe.error?.code, 'NVIDIA_SMI_OUTPUT_INVALID')
})

test('garbage, row by row: each malformed field is caught with its name', () => {
  const good = fixture('h100-1x.csv').trim()
  const cols = good.split(', ')
  const withCol = (i: number, value: string): string => cols.map((c, j) => j === i ? value : c).join(', ')
  assert.match(parseError(cols.slice(0, 4).join(', ')).message, /expected 8 comma-separated fields .* got 4/)
  assert.match(parseError(withCol(0, 'x')).message, /index is not a whole number/)
  assert.match(parseError(withCol(1, '')).message, /name is empty/)
  assert.match(parseError(withCol(2, 'not-a-uuid')).message, /uuid is malformed/)
  assert.match(parseError(withCol(3, '80 GiB')).message, /memory.total is not a whole number/)
  assert.match(parseError(withCol(4, 'latest')).message, /driver_version is malformed/)
  assert.match(parseError(withCol(5, '18:00')).message, /pci.bus_id is malformed/)
  assert.match(parseError(withCol(6, 'lots')).message, /power.limit is not a number/)
  assert.match(parseError(`${good}\n${good}`).message, /same GPU index appears twice/)
  assert.match(parseError('\u0000\u0001binary\n').message, /line 1/)
})

test('[N/A] and [Not Supported] figures become null, not errors', () => {
  const [gpu] = parseNvidiaSmiCsv('0, NVIDIA GB10, GPU-0f1e2d3c-4b5a-4968-8776-655443322110, [N/A], 580.95.05, 0000000F:01:00.0, [Not Supported], [N/A]\n')
  assert.equal([gpu?.memoryTotalMiB, gpu?.powerLimitW, gpu?.maxSmClockMHz], [null, null, null])
})

test('unknown models are reported as unknown with their raw names, never guessed', async () => {
  const probe = await probeGpus({ runner: fakeRunner({ 'nvidia-smi': smiExit('unknown-models.csv', 0) }) })
  assert.equal(probe.gpus.map(g => [g.name, g.model, g.vramMiB]), [['NVIDIA B200', null, 183359], ['NVIDIA GeForce RTX 3080', null, 12288]])
})

test('nvidia-smi failing (driver not loaded, exit 9) is NVIDIA_SMI_FAILED with its message', async () => {
  assert.throws(() => interpretNvidiaSmi(smiExit('driver-failed.txt', 9)), (err: unknown) => err instanceof NvidiaSmiError && err.code === 'NVIDIA_SMI_FAILED' && /code 9: NVIDIA-SMI has failed because it couldn't communicate/.test(err.message))
  const probe = await probeGpus({ runner: fakeRunner({ 'nvidia-smi': smiExit('driver-failed.txt', 9) }) })
  assert.equal(probe.gpus, [])
  assert.is(probe.gpuProbe.error?.code, 'NVIDIA_SMI_FAILED')
})

test('nvidia-smi hung is NVIDIA_SMI_TIMEOUT, reported with no GPUs', async () => {
  const probe = await probeGpus({ runner: fakeRunner({ 'nvidia-smi': { status: 'timed-out', stdout: '', stderr: '' } }) })
  assert.equal(probe.gpus, [])
  assert.is(probe.gpuProbe.error?.code, 'NVIDIA_SMI_TIMEOUT')
})

test('nvidia-smi absent: the PCI bus is asked, and only compute GPUs are kept', async () => {
  const runner = fakeRunner({})
  const probe = await probeGpus({
    runner,
    system: pciBus([
      { vendor: 'NVIDIA Corporation', model: 'GA100 [A100 SXM4 80GB]', pciBus: '0000:07:00.0' },
      { vendor: 'NVIDIA Corporation', model: 'GB100 [B200]' },
      { vendor: 'ASPEED Technology, Inc.', model: 'ASPEED Graphics Family' },
      { vendor: 'Red Hat, Inc.', model: 'Virtio 1.0 GPU' },
      { vendor: 'Intel Corporation', model: 'Alder Lake-P GT2 [Iris Xe Graphics]' },
      { vendor: 'Advanced Micro Devices, Inc. [AMD/ATI]', model: 'Rembrandt [Radeon 680M]' },
      { vendor: 'Advanced Micro Devices, Inc. [AMD/ATI]', model: 'Aqua Vanjaram [Instinct MI300X]' }
    ])
  })
  assert.equal(runner.calls.map(c => c.file), ['nvidia-smi'])
  assert.equal(probe.gpuProbe, { source: 'pci', error: null })
  assert.equal(probe.gpus.map(g => [g.index, g.vendor, g.model, g.vramMiB, g.driverVersion]), [
    [0, 'nvidia', 'a100-sxm-80gb', null, null],
    [1, 'nvidia', null, null, null],
    [2, 'amd', null, null, null]
  ])
  assert.is(probe.gpus[0]?.pciBusId, '0000:07:00.0')
})

test('nvidia-smi absent and no compute GPU on the bus: no GPU, no error', async () => {
  const probe = await probeGpus({ runner: fakeRunner({}), system: pciBus([{ vendor: 'Matrox Electronics Systems Ltd.', model: 'MGA G200e [Pilot] ServerEngines (SEP1)' }]) })
  assert.equal(probe, { gpus: [], gpuProbe: { source: 'pci', error: null } })
  assert.equal(computeGpusOnPci([]), [])
})

test.run()
