// The benchmark job in quick mode: bounded, positive and plausible figures in the units its
// field names say, no GPU reported here (checked against /sys, not against our own probe),
// failures confined to their stage, and the GPU stage's decisions through a fake runtime.
import fs from 'node:fs/promises'
import os from 'node:os'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { benchmarkGpus, DEFAULT_GPU_IMAGE, GPU_BENCH_SCRIPT, parseGpuBenchmarkOutput } from '../../node/hardware/benchmark/gpu.js'
import { loopbackTcpProbe, type ThroughputProbe } from '../../node/hardware/benchmark/network.js'
import { terminalProgress, type ProgressEvent } from '../../node/hardware/benchmark/progress.js'
import { runBenchmark } from '../../node/hardware/benchmark/run.js'
import { decodeBenchmark, encodeBenchmark, type BenchmarkResult, type GpuDevice } from '../../node/hardware/schema.js'
import { killAll, runCli } from '../helpers/cli.js'
import { fakeRunner, pciNvidiaGpus } from '../helpers/hardware.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'

test.after(async () => { await killAll(); await removeTempDirs() })

function ok<T extends { status: string }> (stage: T): Extract<T, { status: 'ok' }> {
  assert.is(stage.status, 'ok', `stage not ok: ${JSON.stringify(stage)}`)
  return stage as Extract<T, { status: 'ok' }>
}

function within (value: number, min: number, max: number, what: string): void {
  assert.ok(value >= min && value <= max, `${what} = ${value}, expected ${min}…${max}`)
}

const H100: GpuDevice = { index: 0, vendor: 'nvidia', name: 'NVIDIA H100 80GB HBM3', model: 'h100-sxm', vramMiB: 81559, uuid: 'GPU-5a3c1b2e-8f4d-4e6a-9b7c-2d1e0f3a4b5c', pciBusId: '00000000:18:00.0', driverVersion: '535.129.03', powerLimitW: 700, maxSmClockMHz: 1980 }

let quick: BenchmarkResult | undefined
let diskDir = ''
const events: ProgressEvent[] = []

test('quick mode: every stage runs within ~3 s, figures positive and plausible, in the named units', async () => {
  diskDir = await tempDir('kaisar-bench-')
  const wall = performance.now()
  quick = await runBenchmark({ quick: true, diskDir, onProgress: e => events.push(e) })
  const wallMs = performance.now() - wall
  assert.ok(wallMs < 3_000, `quick job took ${Math.round(wallMs)} ms`)
  within(quick.durationMs, 1, wallMs + 1, 'durationMs')
  assert.is(quick.quick, true)

  const hash = ok(quick.cpuHash)
  assert.is(hash.threads, os.availableParallelism())
  within(hash.perThreadMBps, 10, 20_000, 'sha256 MB/s per thread') // 20 GB/s/thread would be no SHA-256 ever shipped
  within(hash.sha256MBps / hash.perThreadMBps, hash.threads * 0.99, hash.threads * 1.01, 'total = per thread × threads')

  const mm = ok(quick.cpuMatmul)
  within(mm.perThreadGflops, 0.01, 50, 'float64 GFLOPS per thread in JavaScript')
  assert.ok(mm.n >= 64)

  const mem = ok(quick.memory)
  within(mem.copyGBps, 0.1, 500, 'memory copy GB/s')
  assert.ok(mem.bufferMiB * 1024 * 1024 > 32 * 1024 * 1024, 'buffer larger than the caches')

  const disk = ok(quick.disk)
  assert.is(disk.dir, diskDir)
  within(disk.writeMBps, 1, 100_000, 'disk write MB/s')
  within(disk.readMBps, 1, 100_000, 'disk read MB/s')
  within(disk.fileMiB, 4, 64, 'file MiB (quick cap)')

  const net = ok(quick.network)
  assert.is(net.target, 'loopback')
  within(net.throughputMBps, 1, 200_000, 'loopback MB/s')
  assert.ok(net.bytes >= 1024 * 1024)
})

test('quick mode: no GPU here is "skipped: no GPU" (this machine has no NVIDIA device on its PCI bus)', () => {
  if (pciNvidiaGpus() > 0) { assert.is.not(quick?.gpu.status, 'skipped'); return }
  assert.equal(quick?.gpu, { status: 'skipped', reason: 'no GPU' })
})

test('quick mode: the temp file is gone, the result passes its schema, progress came per stage', async () => {
  assert.equal(await fs.readdir(diskDir), [])
  assert.ok(quick != null)
  assert.equal(decodeBenchmark(encodeBenchmark(quick)), quick)
  const stages = ['cpuHash', 'cpuMatmul', 'memory', 'disk', 'network', 'gpu']
  assert.equal(events.filter(e => e.type === 'stage-start').map(e => e.stage), stages)
  assert.equal(events.filter(e => e.type === 'stage-end').map(e => e.stage), stages)
  let text = ''
  const sink = terminalProgress({ write: (s: string) => { text += s; return true } } as unknown as NodeJS.WritableStream)
  for (const e of events) sink(e)
  const lines = text.trimEnd().split('\n')
  assert.is(lines.length, 6, text)
  assert.match(lines[0] as string, /^\[1\/6\] cpu hash +sha256 .* … [\d.]+ MB\/s sha256/)
  assert.match(lines[5] as string, /^\[6\/6\] gpu +.* … (skipped: no GPU|.+)$/)
})

test('a stage that fails is recorded as failed and the job goes on', async () => {
  const boom: ThroughputProbe = { target: 'gateway-1', measure: async () => { throw new Error('stream reset') } }
  const r = await runBenchmark({ quick: true, stageMs: 100, diskDir: '/nonexistent/kaisar', network: boom, gpus: [] })
  assert.is(r.disk.status, 'failed')
  assert.match(r.disk.status === 'failed' ? r.disk.error : '', /cannot create a file in \/nonexistent\/kaisar \(ENOENT\)/)
  assert.equal(r.network.status === 'failed' ? r.network.error : r.network, 'stream reset')
  assert.is(r.cpuHash.status, 'ok')
  assert.is(r.gpu.status, 'skipped')
})

test('network: the injected probe is what gets measured (the provider role plugs a libp2p stream in here)', async () => {
  const calls: number[] = []
  const probe: ThroughputProbe = { target: '12D3KooWGateway', measure: async ({ durationMs }) => { calls.push(durationMs); return { bytes: 50_000_000, elapsedMs: 500 } } }
  const r = await runBenchmark({ quick: true, stageMs: 60, network: probe, gpus: [] })
  assert.equal(calls, [60])
  assert.equal(r.network.status === 'ok' ? [r.network.target, r.network.bytes, r.network.throughputMBps] : r.network, ['12D3KooWGateway', 50_000_000, 100])
  // A probe that claims to have moved nothing fails the stage instead of reporting 0 MB/s.
  const idle = await runBenchmark({ quick: true, stageMs: 60, network: { target: 'x', measure: async () => ({ bytes: 0, elapsedMs: 10 }) }, gpus: [] })
  assert.is(idle.network.status, 'failed')
})

test('loopback probe moves real bytes and stops at its budget', async () => {
  const start = performance.now()
  const sample = await loopbackTcpProbe().measure({ durationMs: 150, signal: AbortSignal.timeout(5_000) })
  assert.ok(sample.bytes > 1024 * 1024 && sample.elapsedMs >= 150 && performance.now() - start < 2_000, JSON.stringify(sample))
})

test('GPU stage: no GPU, no CUDA device, driverless GPU, no docker, image absent — each says why, never a number', async () => {
  const noDocker = fakeRunner({})
  assert.equal(await benchmarkGpus({ gpus: [], runner: noDocker, secondsPerTest: 1 }), { status: 'skipped', reason: 'no GPU' })
  assert.equal(noDocker.calls, [], 'nothing is run without a GPU')
  const amd = { ...H100, vendor: 'amd' as const, name: 'AMD Instinct MI300X', model: null }
  assert.match(JSON.stringify(await benchmarkGpus({ gpus: [amd], runner: noDocker, secondsPerTest: 1 })), /no NVIDIA GPU/)
  const driverless = await benchmarkGpus({ gpus: [{ ...H100, driverVersion: null }], runner: noDocker, secondsPerTest: 1 })
  assert.match(driverless.status === 'failed' ? driverless.error : '', /without a working driver/)
  const missing = await benchmarkGpus({ gpus: [H100], runner: noDocker, secondsPerTest: 1 })
  assert.match(missing.status === 'failed' ? missing.error : '', /docker CLI is not installed/)
  const absent = await benchmarkGpus({ gpus: [H100], runner: fakeRunner({ docker: { status: 'exited', code: 1, stdout: '', stderr: `Error response from daemon: No such image: ${DEFAULT_GPU_IMAGE}\n` } }), secondsPerTest: 1 })
  assert.match(absent.status === 'failed' ? absent.error : '', new RegExp(`not present locally: run \`docker pull ${DEFAULT_GPU_IMAGE.replace(/[.]/g, '\\.')}\``))
})

test('GPU stage: the container is run with the GPUs, no network and the script; its JSON is validated', async () => {
  const out = JSON.stringify({ devices: [{ index: 0, name: 'NVIDIA H100 80GB HBM3', fp32Tflops: 51.2, fp16Tflops: 702.5, copyGBps: 1480.3 }] })
  const runner = fakeRunner({ docker: args => args[0] === 'image' ? { status: 'exited', code: 0, stdout: 'sha256:abc\n', stderr: '' } : { status: 'exited', code: 0, stdout: `some log\n${out}\n`, stderr: '' } })
  const r = await benchmarkGpus({ gpus: [H100], runner, secondsPerTest: 2, image: 'my/torch:cuda' })
  assert.is(r.status, 'ok')
  assert.equal(r.status === 'ok' ? r.devices : [], JSON.parse(out).devices)
  const run = runner.calls[1]?.args ?? []
  assert.equal(run.slice(0, 5), ['run', '--rm', '--gpus', 'all', '--network'])
  assert.ok(run.includes('KAISAR_BENCH_SECONDS=2') && run.includes('CUDA_DEVICE_ORDER=PCI_BUS_ID'))
  assert.equal(run.slice(-4), ['my/torch:cuda', 'python', '-c', GPU_BENCH_SCRIPT])
  // Garbage or impossible figures from the container fail the stage.
  assert.equal(parseGpuBenchmarkOutput('Traceback (most recent call last):\nRuntimeError: CUDA error').ok, false)
  assert.equal(parseGpuBenchmarkOutput(JSON.stringify({ devices: [{ index: 0, name: 'x', fp32Tflops: 0, fp16Tflops: 1, copyGBps: 1 }] })).ok, false)
  assert.equal(parseGpuBenchmarkOutput(JSON.stringify({ devices: [] })).ok, false)
  const crashed = await benchmarkGpus({ gpus: [H100], runner: fakeRunner({ docker: args => args[0] === 'image' ? { status: 'exited', code: 0, stdout: 'sha256:abc', stderr: '' } : { status: 'exited', code: 125, stdout: '', stderr: 'docker: Error response from daemon: could not select device driver "" with capabilities: [[gpu]].' } }), secondsPerTest: 1 })
  assert.match(crashed.status === 'failed' ? crashed.error : '', /exited with 125: docker: Error response from daemon: could not select device driver/)
})

test('kaisar-node benchmark --quick --json: one JSON object on stdout, a line per stage on stderr', async () => {
  const dir = await tempDir('kaisar-bench-cli-')
  const r = await runCli(['benchmark', '--quick', '--json', '--disk-dir', dir], { timeoutMs: 20_000 })
  assert.is(r.code, 0, r.stderr)
  const result = decodeBenchmark(r.stdout.trim())
  assert.is(result.quick, true)
  for (const stage of ['cpuHash', 'cpuMatmul', 'memory', 'disk', 'network'] as const) assert.is(result[stage].status, 'ok', stage)
  assert.equal(r.stderr.trimEnd().split('\n').map(l => /^\[(\d)\/6\]/.exec(l)?.[1]), ['1', '2', '3', '4', '5', '6'])
  if (pciNvidiaGpus() === 0) assert.match(r.stderr, /\[6\/6\] gpu +looking for GPUs … skipped: no GPU$/m)
  assert.equal(await fs.readdir(dir), [])
})

test('kaisar-node benchmark: a bad --stage-ms is one line and exit 1; a failed stage exits 1', async () => {
  const bad = await runCli(['benchmark', '--stage-ms', '10'])
  assert.is(bad.code, 1)
  assert.match(bad.stderr, /^kaisar-node: config: stage-ms: must be a whole number of milliseconds from 50 to 60000 \(got "10"\)\n$/)
  const failing = await runCli(['benchmark', '--quick', '--stage-ms', '50', '--disk-dir', '/nonexistent/kaisar'], { timeoutMs: 20_000 })
  assert.is(failing.code, 1)
  assert.match(failing.stdout, /^ {2}disk +FAILED: benchmark disk: cannot create a file/m)
  assert.match(failing.stderr, /kaisar-node: benchmark: 1 stage\(s\) failed: disk\n$/)
})

test.run()
