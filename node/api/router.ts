// A small router for the HTTP API: method + path pattern (`/api/v1/providers/:peer`) →
// handler. Handlers return a value to send as JSON, or write the response themselves.
import type { IncomingMessage, ServerResponse } from 'node:http'

export interface RequestContext {
  req: IncomingMessage
  res: ServerResponse
  params: Record<string, string>
  query: URLSearchParams
  /** Raw body (read only for methods that carry one). */
  body: Buffer
  /** Wallet address that signed the request (routes with `signed: true` only). */
  signer?: string
}

export interface RouteOptions {
  /** Requires a wallet-signed request (see auth.ts): anything that changes state or spends money. */
  signed?: boolean
}

export type Handler = (ctx: RequestContext) => Promise<unknown> | unknown

/** An error with an HTTP status, sent to the client as `{ error: message }`. */
export class HttpError extends Error {
  constructor (readonly status: number, message: string) { super(message) }
}

export interface Route { method: string, name: string, pattern: RegExp, keys: string[], handler: Handler, signed: boolean }

export class Router {
  private readonly routes: Route[] = []

  /** `/:name` captures one segment; a trailing `/*` captures the rest of the path as `rest`. */
  add (method: string, path: string, handler: Handler, options: RouteOptions = {}): this {
    const keys: string[] = []
    const wildcard = path.endsWith('/*')
    const base = wildcard ? path.slice(0, -2) : path
    let source = '^' + base.replace(/\/:([a-zA-Z]+)/g, (_m, key: string) => { keys.push(key); return '/([^/]+)' })
    if (wildcard) { keys.push('rest'); source += '(?:/(.*))?$' } else source += '/?$'
    const pattern = new RegExp(source)
    this.routes.push({ method, name: path, pattern, keys, handler, signed: options.signed === true })
    return this
  }

  get (path: string, handler: Handler): this { return this.add('GET', path, handler) }
  post (path: string, handler: Handler, options: RouteOptions = { signed: true }): this { return this.add('POST', path, handler, options) }
  delete (path: string, handler: Handler, options: RouteOptions = { signed: true }): this { return this.add('DELETE', path, handler, options) }

  /** The route for a request, or why there is none (404 / 405). */
  match (method: string, pathname: string): { route: Route, params: Record<string, string> } | { status: 404 | 405 } {
    let pathMatched = false
    for (const route of this.routes) {
      const m = route.pattern.exec(pathname)
      if (m == null) continue
      pathMatched = true
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) continue
      const params: Record<string, string> = {}
      route.keys.forEach((key, i) => { params[key] = decodeURIComponent(m[i + 1] ?? '') })
      return { route, params }
    }
    return { status: pathMatched ? 405 : 404 }
  }
}
