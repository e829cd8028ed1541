// `kaisar-node inventory`: this machine's hardware, as a provider would advertise it.
// Works on any machine, with or without a GPU or a node running.
import { Command } from 'commander'
import type { HardwareInventory } from '../../hardware/schema.js'

type GpuModels = typeof import('../../hardware/gpu-models.js')

export function inventoryCommand (): Command {
  return new Command('inventory')
    .description("show this machine's hardware: CPU, memory, disks, OS, network, GPUs")
    .option('--json', 'print one JSON object (the inventory a provider signs into its record)')
    .action(async (opts: { json?: boolean }) => {
      // Loaded here, not at the top: other commands should not pay for systeminformation.
      const { collectInventory } = await import('../../hardware/inventory.js')
      const inventory = await collectInventory()
      if (opts.json === true) { process.stdout.write(JSON.stringify(inventory) + '\n'); return }
      const models = await import('../../hardware/gpu-models.js')
      process.stdout.write(formatInventory(inventory, models))
    })
}

const GiB = 1024 ** 3

function formatInventory (inv: HardwareInventory, models: GpuModels): string {
  const { cpu } = inv
  const clocks = [cpu.baseGHz != null ? `${cpu.baseGHz} GHz base` : '', cpu.maxGHz != null ? `${cpu.maxGHz} GHz max` : ''].filter(s => s !== '').join(', ')
  const lines = [
    `cpu      ${cpu.model}: ${cpu.physicalCores} cores, ${cpu.threads} threads${clocks !== '' ? `, ${clocks}` : ''}`,
    ...(cpu.flags.length > 0 ? [`         flags ${cpu.flags.join(' ')}`] : []),
    `memory   ${(inv.memory.totalBytes / GiB).toFixed(1)} GiB`,
    ...section('disks', inv.disks.map(d => `${d.device.padEnd(10)} ${`${(d.sizeBytes / GiB).toFixed(1)} GiB`.padStart(10)}  ${d.type.padEnd(7)}${d.mount != null ? ` on ${d.mount}` : ''}${d.model != null ? `  ${d.model}` : ''}`)),
    `os       ${inv.os.distro} ${inv.os.release} (${inv.os.platform} ${inv.os.arch}), kernel ${inv.os.kernel}`,
    ...section('network', inv.network.map(n => `${n.name.padEnd(10)} ${(n.ip4 ?? 'no IPv4').padEnd(15)}  ${n.speedMbps != null ? `${n.speedMbps} Mb/s` : 'speed unknown'}`)),
    ...gpuLines(inv, models)
  ]
  return lines.join('\n') + '\n'
}

function section (title: string, rows: string[]): string[] {
  if (rows.length === 0) return [`${title.padEnd(8)} none`]
  return rows.map((row, i) => `${(i === 0 ? title : '').padEnd(8)} ${row}`)
}

function gpuLines (inv: HardwareInventory, models: GpuModels): string[] {
  const { gpuProbe } = inv
  if (gpuProbe.error != null) return [`gpus     none: ${gpuProbe.error.message}`]
  if (inv.gpus.length === 0) {
    return [`gpus     none (${gpuProbe.source === 'nvidia-smi' ? 'the NVIDIA driver sees no device' : 'no NVIDIA driver, and no compute GPU on the PCI bus'})`]
  }
  return section('gpus', inv.gpus.map(g => {
    const model = g.model != null ? models.gpuModelById(g.model) : undefined
    const id = model == null ? models.identifyGpu(g.name, g.vramMiB) : undefined
    const what = model != null
      ? `${model.id} (${model.class}, ${model.fp16TensorTflops} FP16 / ${model.fp32Tflops} FP32 TFLOPS, score ${model.score})`
      : `unknown model${id != null && !id.known ? `: ${id.reason}` : ''}`
    const vram = g.vramMiB != null ? `${(g.vramMiB / 1024).toFixed(1)} GiB` : 'VRAM unknown'
    const driver = g.driverVersion != null ? `driver ${g.driverVersion}` : 'no driver'
    return `#${g.index} ${g.name}: ${what}, ${vram}, ${driver}`
  }))
}
