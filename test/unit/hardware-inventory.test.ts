// Issue 4, done-when 1: `kaisar-node inventory --json`, run as a real CLI process, matches this
// machine as the kernel describes it in /proc and /sys (not as systeminformation does: that is
// the code under test). Plus the schema that guards what goes into a signed record.
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { hardwareCapacity } from '../../node/hardware/capacity.js'
import { HardwareRecordInvalidError } from '../../node/hardware/errors.js'
import { decodeInventory, encodeInventory, type HardwareInventory } from '../../node/hardware/schema.js'
import { killAll, runCli } from '../helpers/cli.js'
import { NVIDIA_SMI_FIXTURES, nproc, pciNvidiaGpus, procCpuinfoProcessors, procMemTotalBytes, procPartitionsDisks, sysPhysicalNics } from '../helpers/hardware.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'

test.after(async () => { await killAll(); await removeTempDirs() })

async function inventoryJson (env?: Record<string, string>): Promise<HardwareInventory> {
  const r = await runCli(['inventory', '--json'], { env })
  assert.is(r.code, 0, `exit code; stderr:\n${r.stderr}`)
  const lines = r.stdout.trim().split('\n')
  assert.is(lines.length, 1, 'one JSON object on one line')
  return decodeInventory(lines[0] as string) // also proves it passes the schema
}

/** A directory holding a stand-in `nvidia-smi` that prints a fixture, for PATH. */
async function fakeNvidiaSmiDir (fixtureFile: string, exitCode: number): Promise<string> {
  const dir = await tempDir('kaisar-fake-smi-')
  const script = path.join(dir, 'nvidia-smi')
  // It answers only the query the inventory should make: a different query gets nvidia-smi's usage error.
  await fs.writeFile(script, `#!/bin/sh\n[ "$1" = "--query-gpu=index,name,uuid,memory.total,driver_version,pci.bus_id,power.limit,clocks.max.sm" ] && [ "$2" = "--format=csv,noheader,nounits" ] || { echo "bad query: $*" >&2; exit 2; }\ncat '${path.join(NVIDIA_SMI_FIXTURES, fixtureFile)}'\nexit ${exitCode}\n`, { mode: 0o755 })
  return dir
}

let mine: HardwareInventory | undefined

test('inventory --json: threads equal nproc and /proc/cpuinfo', async () => {
  mine = await inventoryJson()
  assert.is(mine.cpu.threads, procCpuinfoProcessors(), '/proc/cpuinfo processors')
  assert.is(mine.cpu.threads, nproc(), 'nproc')
  assert.ok(mine.cpu.physicalCores >= 1 && mine.cpu.physicalCores <= mine.cpu.threads)
  assert.ok(mine.cpu.model.length > 0)
})

test('inventory --json: memory within 1 % of MemTotal in /proc/meminfo', () => {
  const truth = procMemTotalBytes()
  const got = mine?.memory.totalBytes ?? 0
  assert.ok(Math.abs(got - truth) <= truth * 0.01, `inventory ${got} B vs /proc/meminfo ${truth} B`)
})

test('inventory --json: the disks are the whole disks of /proc/partitions, with their sizes', () => {
  const truth = procPartitionsDisks()
  assert.ok(truth.size > 0, 'this machine has a disk')
  const disks = mine?.disks ?? []
  assert.equal(disks.map(d => d.device).sort(), [...truth.keys()].sort())
  for (const d of disks) {
    const size = truth.get(d.device) ?? 0
    assert.ok(Math.abs(d.sizeBytes - size) < 1024, `${d.device}: ${d.sizeBytes} B vs /proc/partitions ${size} B`)
  }
  assert.ok(disks.some(d => d.mount === '/'), 'the root filesystem\'s disk says so')
})

test('inventory --json: GPUs as the PCI bus has them (none here), reported cleanly', () => {
  const nvidiaOnBus = pciNvidiaGpus()
  assert.is(mine?.gpus.length, nvidiaOnBus, `${nvidiaOnBus} NVIDIA GPU(s) in /sys/bus/pci`)
  if (nvidiaOnBus === 0) assert.equal(mine?.gpuProbe, { source: 'pci', error: null }, 'no driver, no error')
})

test('inventory --json: OS and network as the kernel says', async () => {
  assert.is(mine?.os.kernel, os.release())
  assert.is(mine?.os.arch, os.arch())
  // Physical NICs only: /sys/class/net entries that are not under /sys/devices/virtual
  // (loopback, bridges, veths, ifb come and go with containers).
  assert.equal((mine?.network ?? []).map(n => n.name).sort(), sysPhysicalNics().sort())
  const ip4 = Object.entries(os.networkInterfaces()).flatMap(([, addrs]) => (addrs ?? []).filter(a => a.family === 'IPv4' && !a.internal).map(a => a.address))
  for (const n of mine?.network ?? []) {
    assert.ok(n.ip4 == null || ip4.includes(n.ip4), `${n.name} ${String(n.ip4)} is one of this machine's addresses`)
    assert.is.not(n.ip4, '127.0.0.1', 'no loopback')
  }
})

test('inventory (human): a readable summary that says "no GPU"', async () => {
  const r = await runCli(['inventory'])
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`^cpu +.*: \\d+ cores, ${procCpuinfoProcessors()} threads`, 'm'))
  assert.match(r.stdout, /^memory +\d+\.\d GiB$/m)
  for (const disk of procPartitionsDisks().keys()) assert.match(r.stdout, new RegExp(`\\b${disk}\\b`))
  if (pciNvidiaGpus() === 0) assert.match(r.stdout, /^gpus +none \(no NVIDIA driver, and no compute GPU on the PCI bus\)$/m)
})

test('inventory --json with an nvidia-smi on PATH (the fixture of 2× A100 80GB) lists both GPUs', async () => {
  const dir = await fakeNvidiaSmiDir('a100-80gb-2x.csv', 0)
  const inv = await inventoryJson({ PATH: `${dir}:${process.env.PATH ?? ''}` })
  assert.equal(inv.gpus.map(g => [g.index, g.model, g.vramMiB]), [[0, 'a100-sxm-80gb', 81920], [1, 'a100-sxm-80gb', 81920]])
  assert.equal(inv.gpuProbe, { source: 'nvidia-smi', error: null })
  assert.equal(hardwareCapacity(inv).gpuModels, ['a100-sxm-80gb', 'a100-sxm-80gb'])
})

test('inventory with a failing nvidia-smi on PATH still succeeds, and says why there is no GPU', async () => {
  const dir = await fakeNvidiaSmiDir('driver-failed.txt', 9)
  const env = { PATH: `${dir}:${process.env.PATH ?? ''}` }
  const inv = await inventoryJson(env)
  assert.equal(inv.gpus, [])
  assert.is(inv.gpuProbe.error?.code, 'NVIDIA_SMI_FAILED')
  const human = await runCli(['inventory'], { env })
  assert.is(human.code, 0)
  assert.match(human.stdout, /^gpus +none: nvidia-smi: exited with code 9: NVIDIA-SMI has failed/m)
})

test('capacity: totals a provider advertises', () => {
  assert.ok(mine != null)
  const cap = hardwareCapacity(mine)
  assert.equal([cap.cpus, cap.memoryBytes, cap.gpus], [procCpuinfoProcessors(), mine.memory.totalBytes, pciNvidiaGpus()])
})

test('schema: encode/decode round trip is byte-stable; tampered or foreign documents are refused', () => {
  assert.ok(mine != null)
  const json = encodeInventory(mine)
  assert.is(encodeInventory(decodeInventory(json)), json)
  const refused = (doc: unknown): string => {
    try { decodeInventory(typeof doc === 'string' ? doc : JSON.stringify(doc)); return 'accepted' } catch (err) { assert.instance(err, HardwareRecordInvalidError); return (err as HardwareRecordInvalidError).type.issue }
  }
  assert.is(refused('{not json'), 'not valid JSON')
  assert.match(refused({ ...mine, version: 2 }), /^version: /)
  assert.match(refused({ ...mine, cpu: { ...mine.cpu, threads: 0 } }), /^cpu\.threads: /)
  assert.match(refused({ ...mine, hostname: 'leak' }), /hostname/)
  assert.match(refused({ ...mine, gpus: [{ index: 0, vendor: 'nvidia', name: 'x', model: 'H100!', vramMiB: null, uuid: null, pciBusId: null, driverVersion: null, powerLimitW: null, maxSmClockMHz: null }] }), /^gpus\.0\.model: /)
})

test.run()
