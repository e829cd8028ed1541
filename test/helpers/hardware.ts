// Hardware test support: the recorded nvidia-smi outputs, a fake command runner that plays
// nvidia-smi / docker, and this machine's ground truth read straight from /proc and /sys
// (never through systeminformation, which is what is under test).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CommandResult, CommandRunner } from '../../node/hardware/command.js'

export const ROOT = path.resolve(fileURLToPath(new URL('../../..', import.meta.url)))
export const NVIDIA_SMI_FIXTURES = path.join(ROOT, 'test', 'fixtures', 'nvidia-smi')

export function fixture (name: string): string {
  return fs.readFileSync(path.join(NVIDIA_SMI_FIXTURES, name), 'utf8')
}

/** nvidia-smi prints its complaints (no devices, no driver) on stdout; exit codes per its man page. */
export function smiExit (name: string, code: number): CommandResult {
  return { status: 'exited', code, stdout: fixture(name), stderr: '' }
}

export interface FakeCall { file: string, args: readonly string[] }

/** A runner answering per binary; a binary without an answer is "not installed". Records calls. */
export function fakeRunner (answers: Record<string, CommandResult | ((args: readonly string[]) => CommandResult)>): CommandRunner & { calls: FakeCall[] } {
  const calls: FakeCall[] = []
  const runner = async (file: string, args: readonly string[]): Promise<CommandResult> => {
    calls.push({ file, args })
    const answer = answers[file]
    if (answer == null) return { status: 'not-found' }
    return typeof answer === 'function' ? answer(args) : answer
  }
  return Object.assign(runner, { calls })
}

// ---------------------------------------------------------------- ground truth from the kernel

/** Logical CPUs: `processor` entries of /proc/cpuinfo. */
export function procCpuinfoProcessors (): number {
  return fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter(l => /^processor\s*:/.test(l)).length
}

/** `nproc` (the CPUs this process may use). */
export function nproc (): number {
  return Number(execFileSync('nproc', { encoding: 'utf8' }).trim())
}

export function procMemTotalBytes (): number {
  const m = /^MemTotal:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'))
  if (m == null) throw new Error('no MemTotal in /proc/meminfo')
  return Number(m[1]) * 1024
}

/**
 * Whole disks from /proc/partitions: a name with a /sys/block entry is a disk, not a partition;
 * one under /sys/devices/virtual (loop, zram, dm, md, nbd) has no hardware behind it; optical
 * and floppy drives and empty devices are left out.
 */
export function procPartitionsDisks (): Map<string, number> {
  const disks = new Map<string, number>()
  for (const line of fs.readFileSync('/proc/partitions', 'utf8').split('\n').slice(2)) {
    const [, , blocks, name] = line.trim().split(/\s+/)
    if (name == null || blocks == null) continue
    const sys = path.join('/sys/block', name)
    if (!fs.existsSync(sys) || fs.realpathSync(sys).includes('/devices/virtual/') || /^(sr|fd)\d*/.test(name) || Number(blocks) === 0) continue
    disks.set(name, Number(blocks) * 1024)
  }
  return disks
}

/** NVIDIA display/3D controllers on the PCI bus (vendor 0x10de, class 0x03xxxx). */
export function pciNvidiaGpus (): number {
  const root = '/sys/bus/pci/devices'
  if (!fs.existsSync(root)) return 0
  return fs.readdirSync(root).filter(dev => {
    const read = (f: string): string => fs.readFileSync(path.join(root, dev, f), 'utf8').trim()
    return read('vendor') === '0x10de' && read('class').startsWith('0x03')
  }).length
}

/** Network interfaces backed by a device (not under /sys/devices/virtual/net). */
export function sysPhysicalNics (): string[] {
  return fs.readdirSync('/sys/class/net').filter(name => !fs.realpathSync(path.join('/sys/class/net', name)).includes('/devices/virtual/'))
}
