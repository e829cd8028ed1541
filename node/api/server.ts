// The node's HTTP API: JSON routes, Prometheus /metrics, wallet-signed requests for
// anything that changes state. Local-only by default; public on gateways.
import http from 'node:http'
import { StartupError, systemErrorCode } from '../errors.js'
import { HttpError, type Router } from './router.js'
import type { RequestVerifier } from './auth.js'
import type { Logger } from '../log.js'
import type { NodeMetrics } from '../metrics/registry.js'
import type { Startable } from '@libp2p/interface'
import type { AddressInfo } from 'node:net'

export const MAX_BODY_BYTES = 1024 * 1024

/** JSON with bigints as decimal strings and Uint8Arrays as hex. */
export function toJson (value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString()
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex')
    return v
  })
}

async function readBody (req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

export interface ApiServerInit { host: string, port: number, router: Router, verifier: RequestVerifier }

export class ApiServer implements Startable {
  private readonly server: http.Server
  private readonly init: ApiServerInit
  private readonly log: Logger
  private readonly metrics: NodeMetrics

  constructor (components: { logger: Logger, metrics: NodeMetrics }, init: ApiServerInit) {
    this.init = init
    this.log = components.logger
    this.metrics = components.metrics
    this.server = http.createServer((req, res) => { void this.handle(req, res) })
    this.server.keepAliveTimeout = 5_000
  }

  /** Where it listens (the real port when configured with port 0). */
  get address (): { host: string, port: number } {
    const addr = this.server.address() as AddressInfo | null
    return { host: this.init.host, port: addr?.port ?? this.init.port }
  }

  get url (): string {
    const host = this.init.host === '0.0.0.0' || this.init.host === '::' ? '127.0.0.1' : this.init.host
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.address.port}`
  }

  /** Node's http server, for protocols that upgrade (WebSocket events). */
  get httpServer (): http.Server { return this.server }

  async start (): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        const code = systemErrorCode(err)
        const where = `api ${this.init.host}:${this.init.port}`
        if (code === 'EADDRINUSE') reject(new StartupError('ADDRESS_IN_USE', `${where}: address already in use (is another node running? set --api HOST:PORT)`))
        else if (code === 'EADDRNOTAVAIL') reject(new StartupError('ADDRESS_UNAVAILABLE', `${where}: address not available on this host`))
        else if (code === 'EACCES') reject(new StartupError('ADDRESS_UNAVAILABLE', `${where}: permission denied`))
        else reject(err)
      }
      this.server.once('error', onError)
      this.server.listen(this.init.port, this.init.host, () => { this.server.off('error', onError); resolve() })
    })
    this.log.info({ url: this.url }, 'api listening')
  }

  async stop (): Promise<void> {
    if (!this.server.listening) return
    const closed = new Promise<void>(resolve => this.server.close(() => { resolve() }))
    this.server.closeAllConnections()
    await closed
  }

  private async handle (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint()
    const url = new URL(req.url ?? '/', 'http://localhost')
    const match = this.init.router.match(req.method ?? 'GET', url.pathname)
    const routeName = 'route' in match ? match.route.name : 'unmatched'
    let status = 200
    try {
      if (!('route' in match)) throw new HttpError(match.status, match.status === 404 ? 'not found' : 'method not allowed')
      const body = req.method === 'GET' || req.method === 'HEAD' ? Buffer.alloc(0) : await readBody(req)
      let signer: string | undefined
      if (match.route.signed) {
        const auth = this.init.verifier.verify(req.method ?? '', url.pathname + url.search, req.headers, body)
        if (!auth.ok) {
          this.metrics.apiAuthRejected.inc({ reason: auth.reason })
          throw new HttpError(401, `wallet signature required: ${auth.reason}`)
        }
        signer = auth.address
      }
      const result = await match.route.handler({ req, res, params: match.params, query: url.searchParams, body, signer })
      if (!res.headersSent && !res.writableEnded) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(toJson(result ?? {}))
      }
      status = res.statusCode
    } catch (err) {
      status = err instanceof HttpError ? err.status : 500
      if (status === 500) this.log.error({ err, route: routeName }, 'api handler failed')
      if (!res.headersSent) {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(toJson({ error: err instanceof HttpError ? err.message : 'internal error' }))
      } else {
        res.destroy()
      }
    } finally {
      this.metrics.apiRequests.inc({ route: routeName, status: String(status) })
      this.metrics.apiRequestSeconds.observe({ route: routeName }, Number(process.hrtime.bigint() - started) / 1e9)
    }
  }
}
