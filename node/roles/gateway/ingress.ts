// The gateway's HTTP ingress: a browser reaches a lease's HTTP port at
//   /lease/<lease id>/<path>?kaisar_token=<lease token>
// The gateway must be one of the token's holders (the user's `order` names the gateways it
// joined through), and opens a /kaisar/tunnel/1.0.0 stream to the provider with that token, as
// any holder would; the provider checks it as it checks every tunnel. The first request moves
// the token from the URL into a cookie scoped to the lease's path.
import http from 'node:http'
import { peerIdFromString } from '@libp2p/peer-id'
import { openLeaseToken } from '../../../protocols/lease/token.js'
import { HttpError, type RequestContext, type Router } from '../../api/router.js'
import { streamDuplex } from '../../network/stream-duplex.js'
import { knowProvider, openTunnel, TunnelRefusedError } from '../../user/lease-client.js'
import type { Logger } from '../../log.js'
import type { NodeMetrics } from '../../metrics/registry.js'
import type { KaisarLibp2p } from '../../network/libp2p.js'
import type { Discovery } from '../../services/discovery.js'

const TOKEN_PARAM = 'kaisar_token'
const PORT_PARAM = 'kaisar_port'
/** Request headers not passed on: hop-by-hop ones, and the token. */
const DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'x-kaisar-token', 'cookie'])

export interface IngressComponents { libp2p: KaisarLibp2p, discovery: Discovery, logger: Logger, metrics: NodeMetrics }

export function ingressRoutes (r: Router, c: IngressComponents): void {
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    r.add(method, '/lease/:lease/*', async ctx => { await serve(ctx, c) }, { signed: false })
  }
}

function cookieToken (header: string | undefined, leaseId: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === `${TOKEN_PARAM}_${leaseId}`) return decodeURIComponent(v.join('='))
  }
  return undefined
}

async function serve (ctx: RequestContext, c: IngressComponents): Promise<void> {
  const { req, res, params } = ctx
  const leaseId = params.lease ?? ''
  const url = new URL(req.url ?? '/', 'http://gateway')
  const fromQuery = url.searchParams.get(TOKEN_PARAM)
  if (fromQuery != null) {
    // Keep the token out of URLs (history, Referer): into a cookie for this lease's path only.
    url.searchParams.delete(TOKEN_PARAM)
    res.writeHead(303, {
      location: url.pathname + url.search,
      'set-cookie': `${TOKEN_PARAM}_${leaseId}=${encodeURIComponent(fromQuery)}; Path=/lease/${leaseId}/; HttpOnly; SameSite=Strict`
    })
    res.end()
    return
  }
  const token = (typeof req.headers['x-kaisar-token'] === 'string' ? req.headers['x-kaisar-token'] : undefined) ?? cookieToken(req.headers.cookie, leaseId)
  if (token == null) throw new HttpError(401, `a lease token is needed: /lease/${leaseId}/?${TOKEN_PARAM}=…`)
  const opened = await openLeaseToken(token)
  if (!opened.ok) throw new HttpError(401, `lease token ${opened.reason}`)
  const { body } = opened
  if (body.leaseId !== leaseId) throw new HttpError(403, 'the token is for another lease')
  if (body.expiresAt <= Date.now()) throw new HttpError(401, 'the lease token has expired')
  if (!body.holders.includes(c.libp2p.peerId.toString())) throw new HttpError(403, 'this gateway is not one of the token\'s holders (order through it, or use kaisar-node connect)')
  const port = Number(url.searchParams.get(PORT_PARAM) ?? body.ports[0])
  url.searchParams.delete(PORT_PARAM)

  const provider = peerIdFromString(body.provider)
  const record = await c.discovery.describe(provider, AbortSignal.timeout(10_000)).catch(() => undefined)
  if (record != null) await knowProvider(c.libp2p, body.provider, record.addresses)
  let stream
  try {
    stream = await openTunnel(c.libp2p, provider, token, port, { signal: AbortSignal.timeout(15_000) })
  } catch (err) {
    if (err instanceof TunnelRefusedError) throw new HttpError(403, err.message)
    throw new HttpError(502, `the provider did not answer: ${(err as Error).message}`)
  }

  // HTTP/1.1 to the container over the tunnel, one request per tunnel.
  const headers: http.OutgoingHttpHeaders = {}
  for (const [k, v] of Object.entries(req.headers)) if (!DROP.has(k) && v != null) headers[k] = v
  headers.connection = 'close'
  const path = `/${url.pathname.slice(`/lease/${leaseId}/`.length)}${url.search}`
  await new Promise<void>((resolve) => {
    const upstream = http.request({ method: req.method, path, headers, createConnection: () => streamDuplex(stream) as unknown as import('node:net').Socket }, answer => {
      const out: http.OutgoingHttpHeaders = {}
      for (const [k, v] of Object.entries(answer.headers)) if (!DROP.has(k) && v != null) out[k] = v
      res.writeHead(answer.statusCode ?? 502, out)
      answer.pipe(res)
      answer.on('end', resolve)
      answer.on('error', () => { res.destroy(); resolve() })
    })
    upstream.on('error', err => {
      c.logger.info({ leaseId, err: err.message }, 'ingress request failed')
      if (!res.headersSent) { res.writeHead(502, { 'content-type': 'application/json' }); res.end(JSON.stringify({ error: `upstream: ${err.message}` })) } else res.destroy()
      resolve()
    })
    upstream.end(ctx.body)
  })
}
