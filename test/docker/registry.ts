// A minimal Docker registry (the v2 API's pull side) on 127.0.0.1, so that pulls, their progress
// and a registry's refusals can be tested without any outside registry. It serves one image taken
// from the engine itself (`docker save`), its layers gzipped as a registry stores them, plus one new
// layer of random bytes: the engine already has the saved layers ("Already exists") and would
// download nothing otherwise. Layer blobs go out in small timed pieces, so that the engine has
// download progress to report.
// Docker treats registries on 127.0.0.0/8 as insecure (plain HTTP) by default.
import crypto from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import zlib from 'node:zlib'
import type Dockerode from 'dockerode'

const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json'

export interface FakeRegistry {
  /** `127.0.0.1:PORT`, to prefix image names with. */
  host: string
  /** Every request as `METHOD path`. */
  requests: string[]
  close: () => Promise<void>
}

export interface ServeOptions {
  /** Repository and tag the image is served as (e.g. `kaisar/pulled`, `1`). */
  repo: string
  tag: string
  /** Size of the added layer's one file (random, so it does not compress). Default 1 MiB. */
  extraLayerBytes?: number
  /** Bytes per write of a layer blob and the pause between writes. */
  chunkBytes?: number
  delayMs?: number
}

/** Files of a tar archive (ustar, as `docker save` writes it). */
function untar (tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>()
  let off = 0
  while (off + 512 <= tar.length) {
    const header = tar.subarray(off, off + 512)
    if (header.every(b => b === 0)) break
    const field = (start: number, len: number): string => header.subarray(start, start + len).toString('utf8').replace(/\0.*$/s, '')
    const prefix = field(345, 155)
    const name = (prefix !== '' ? `${prefix}/` : '') + field(0, 100)
    const size = parseInt(field(124, 12).trim() || '0', 8)
    files.set(name, tar.subarray(off + 512, off + 512 + size))
    off += 512 + Math.ceil(size / 512) * 512
  }
  return files
}

/** A one-file tar archive. */
function tarOf (name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(512)
  const put = (value: string, start: number, len: number): void => { header.write(value.slice(0, len), start, 'utf8') }
  const octal = (n: number, len: number): string => n.toString(8).padStart(len - 1, '0') + '\0'
  put(name, 0, 100)
  put(octal(0o644, 8), 100, 8)
  put(octal(0, 8), 108, 8)
  put(octal(0, 8), 116, 8)
  put(octal(data.length, 12), 124, 12)
  put(octal(Math.floor(Date.now() / 1000), 12), 136, 12)
  put('        ', 148, 8) // checksum counts as spaces while it is computed
  put('0', 156, 1)
  put('ustar\0', 257, 6)
  put('00', 263, 2)
  put(octal(header.reduce((a, b) => a + b, 0), 7) + ' ', 148, 8)
  return Buffer.concat([header, data, Buffer.alloc((512 - (data.length % 512)) % 512), Buffer.alloc(1024)])
}

async function saved (docker: Dockerode, image: string): Promise<Buffer> {
  const stream = await docker.getImage(image).get()
  const chunks: Buffer[] = []
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks)
}

const digest = (b: Buffer): string => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`

/** Serves `image` (present on `docker`'s engine) as `<host>/<repo>:<tag>`. */
export async function startRegistry (docker: Dockerode, image: string, opts: ServeOptions): Promise<FakeRegistry> {
  const files = untar(await saved(docker, image))
  const index = JSON.parse((files.get('manifest.json') ?? Buffer.from('[]')).toString()) as Array<{ Config: string, Layers: string[] }>
  const entry = index[0]
  if (entry == null) throw new Error(`docker save of ${image} has no manifest.json`)
  const savedConfig = files.get(entry.Config)
  if (savedConfig == null) throw new Error(`docker save of ${image}: no ${entry.Config}`)
  const tars = entry.Layers.map(name => {
    const tar = files.get(name)
    if (tar == null) throw new Error(`docker save of ${image}: no ${name}`)
    return tar
  })
  const extra = tarOf('pull-test.bin', crypto.randomBytes(opts.extraLayerBytes ?? 1024 * 1024))
  tars.push(extra)
  // The image config lists each layer's uncompressed digest: add the new one (and its history line).
  const parsed = JSON.parse(savedConfig.toString()) as { rootfs: { diff_ids: string[] }, history?: Array<Record<string, unknown>> }
  parsed.rootfs.diff_ids.push(digest(extra))
  parsed.history = [...(parsed.history ?? []), { created: new Date().toISOString(), created_by: 'kaisar test registry: random layer' }]
  const config = Buffer.from(JSON.stringify(parsed))
  const blobs = new Map<string, Buffer>([[digest(config), config]])
  const layers = tars.map(tar => {
    const gz = zlib.gzipSync(tar)
    blobs.set(digest(gz), gz)
    return { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: gz.length, digest: digest(gz) }
  })
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: digest(config) },
    layers
  }))
  const layerDigests = new Set(layers.map(l => l.digest))
  const chunkBytes = opts.chunkBytes ?? 64 * 1024
  const delayMs = opts.delayMs ?? 0
  const requests: string[] = []

  const notFound = (res: http.ServerResponse, code: string): void => {
    res.writeHead(404, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ errors: [{ code, message: code.toLowerCase().replace('_', ' '), detail: null }] }))
  }

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    requests.push(`${req.method ?? 'GET'} ${url}`)
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0')
    if (url === '/v2/' || url === '/v2') { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{}'); return }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url)
    if (m == null || m[1] !== opts.repo) { notFound(res, m?.[2] === 'blobs' ? 'BLOB_UNKNOWN' : 'NAME_UNKNOWN'); return }
    if (m[2] === 'manifests') {
      if (m[3] !== opts.tag && m[3] !== digest(manifest)) { notFound(res, 'MANIFEST_UNKNOWN'); return }
      res.writeHead(200, { 'Content-Type': MANIFEST_TYPE, 'Content-Length': manifest.length, 'Docker-Content-Digest': digest(manifest) })
      res.end(req.method === 'HEAD' ? undefined : manifest)
      return
    }
    const blob = blobs.get(m[3] ?? '')
    if (blob == null) { notFound(res, 'BLOB_UNKNOWN'); return }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.length, 'Docker-Content-Digest': m[3] })
    if (req.method === 'HEAD') { res.end(); return }
    if (!layerDigests.has(m[3] ?? '') || delayMs === 0) { res.end(blob); return }
    // A layer, slowly: the engine reports progress as it arrives.
    void (async () => {
      for (let off = 0; off < blob.length && !res.destroyed; off += chunkBytes) {
        res.write(blob.subarray(off, off + chunkBytes))
        await new Promise(resolve => setTimeout(resolve, delayMs))
      }
      res.end()
    })()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    host: `127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}
