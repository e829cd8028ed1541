// GPU stage: a real CUDA workload, run the way leases run, in a container through the
// container runtime with the GPUs passed in (`docker run --gpus all`, which needs the NVIDIA
// Container Toolkit). The workload is PyTorch: dense FP32 matmul (TF32 off), dense FP16
// matmul (tensor cores), and device-to-device copy, per GPU, timed on the device; it prints
// one JSON line, which we validate. Nothing is estimated: no GPU, no CUDA runtime or no image
// gives a skipped or failed stage with the reason, never a number.
//
// The image is not pulled inside the benchmark (several GB would blow any time budget): the
// operator pulls it once (`docker pull <image>`), or points --gpu-image at an equivalent
// image that has python3 and torch with CUDA.
import { z } from 'zod'
import { execCommand, type CommandRunner } from '../command.js'
import { describeSchemaIssue, gpuBenchmarkDeviceSchema, type GpuDevice, type StageResult } from '../schema.js'

export const DEFAULT_GPU_IMAGE = 'pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime'

/** Runs inside the container. Seconds per measurement come from KAISAR_BENCH_SECONDS. */
export const GPU_BENCH_SCRIPT = `
import json, os, time, torch
secs = float(os.environ.get("KAISAR_BENCH_SECONDS", "2"))
torch.backends.cuda.matmul.allow_tf32 = False  # FP32 means FP32, not TF32
def timed(step):
    step(); torch.cuda.synchronize()  # warm-up: cuBLAS handles, kernel selection
    n, t0 = 0, time.perf_counter()
    while True:
        step(); n += 1
        torch.cuda.synchronize()
        t = time.perf_counter() - t0
        if t >= secs:
            return n, t
devices = []
for i in range(torch.cuda.device_count()):
    torch.cuda.set_device(i)
    r = {"index": i, "name": torch.cuda.get_device_name(i)}
    size = 8192
    for key, dtype in (("fp32Tflops", torch.float32), ("fp16Tflops", torch.float16)):
        a = torch.randn(size, size, device="cuda", dtype=dtype)
        b = torch.randn(size, size, device="cuda", dtype=dtype)
        n, t = timed(lambda: torch.mm(a, b))
        r[key] = 2 * size ** 3 * n / t / 1e12
        del a, b
    x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    n, t = timed(lambda: y.copy_(x))
    r["copyGBps"] = x.numel() * n / t / 1e9
    del x, y
    devices.append(r)
print(json.dumps({"devices": devices}))
`

export interface GpuBenchmarkOptions {
  /** The inventory's GPUs (nvidia-smi's view). */
  gpus: readonly GpuDevice[]
  runner?: CommandRunner
  image?: string
  /** Per measurement (three per GPU). */
  secondsPerTest: number
}

const outputSchema = z.object({ devices: z.array(gpuBenchmarkDeviceSchema).min(1).max(64) })

export async function benchmarkGpus (options: GpuBenchmarkOptions): Promise<StageResult<'gpu'>> {
  const wallStart = performance.now()
  const runner = options.runner ?? execCommand
  const image = options.image ?? DEFAULT_GPU_IMAGE
  const failed = (error: string): StageResult<'gpu'> => ({ status: 'failed', error: error.slice(0, 500), durationMs: Math.round(performance.now() - wallStart) })

  if (options.gpus.length === 0) return { status: 'skipped', reason: 'no GPU' }
  const nvidia = options.gpus.filter(g => g.vendor === 'nvidia')
  if (nvidia.length === 0) return { status: 'skipped', reason: 'no NVIDIA GPU (the GPU benchmark is a CUDA workload)' }
  // A GPU seen only on the PCI bus has no driver: nothing could run on it.
  if (nvidia.every(g => g.driverVersion == null)) return failed('NVIDIA GPU without a working driver (nvidia-smi did not list it)')

  const inspect = await runner('docker', ['image', 'inspect', '--format', '{{.Id}}', image], { timeoutMs: 15_000 })
  if (inspect.status === 'not-found') return failed('no container runtime: the docker CLI is not installed')
  if (inspect.status === 'timed-out') return failed('docker did not answer within 15 s')
  if (inspect.code !== 0) {
    const said = firstLine(inspect.stderr)
    return failed(/no such (image|object)/i.test(said) ? `image ${image} is not present locally: run \`docker pull ${image}\`` : `docker: ${said}`)
  }

  // Container start + CUDA init take a while on first use; three measurements per GPU follow.
  const timeoutMs = 120_000 + nvidia.length * 3 * (options.secondsPerTest + 5) * 1000
  const run = await runner('docker', [
    'run', '--rm', '--gpus', 'all', '--network', 'none',
    // CUDA's default order is "fastest first"; PCI order matches nvidia-smi's indices.
    '-e', 'CUDA_DEVICE_ORDER=PCI_BUS_ID',
    '-e', `KAISAR_BENCH_SECONDS=${options.secondsPerTest}`,
    image, 'python', '-c', GPU_BENCH_SCRIPT
  ], { timeoutMs })
  if (run.status === 'not-found') return failed('no container runtime: the docker CLI is not installed')
  if (run.status === 'timed-out') return failed(`the GPU container did not finish within ${Math.round(timeoutMs / 1000)} s`)
  if (run.code !== 0) return failed(`the GPU container exited with ${String(run.code)}: ${lastLine(run.stderr) || lastLine(run.stdout)}`)

  const parsed = parseGpuBenchmarkOutput(run.stdout)
  if (!parsed.ok) return failed(parsed.error)
  return { status: 'ok', durationMs: Math.round(performance.now() - wallStart), image, devices: parsed.devices }
}

/** The container's last stdout line, as our schema wants it. */
export function parseGpuBenchmarkOutput (stdout: string): { ok: true, devices: z.infer<typeof outputSchema>['devices'] } | { ok: false, error: string } {
  let value: unknown
  try {
    value = JSON.parse(lastLine(stdout))
  } catch {
    return { ok: false, error: `the GPU container printed no JSON result (last line: ${JSON.stringify(lastLine(stdout).slice(0, 200))})` }
  }
  const result = outputSchema.safeParse(value)
  if (!result.success) return { ok: false, error: `the GPU container's result is invalid: ${describeSchemaIssue(result.error)}` }
  return { ok: true, devices: result.data.devices }
}

function firstLine (text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? ''
}

function lastLine (text: string): string {
  return text.trim().split('\n').at(-1)?.trim() ?? ''
}
