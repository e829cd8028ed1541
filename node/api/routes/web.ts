// The Explorer's static files (web/explorer), served by every node's API: `/` redirects to it.
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { HttpError, type Router } from '../router.js'

/** dist/node/api/routes → the repository's web/ (also copied into the Docker image). */
const WEB_ROOT = path.resolve(fileURLToPath(new URL('../../../../web', import.meta.url)))
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' }

export function webRoutes (r: Router): void {
  r.get('/', ({ res }) => { res.writeHead(302, { location: '/explorer/' }); res.end() })
  // The router's patterns take an optional trailing slash: this is /explorer and /explorer/.
  r.get('/explorer', async ({ res }) => { await serve(res, 'index.html') })
  r.get('/explorer/:file', async ({ params, res }) => { await serve(res, params.file ?? '') })
}

async function serve (res: import('node:http').ServerResponse, file: string): Promise<void> {
  // One directory, no subpaths: nothing outside web/explorer can be named.
  if (!/^[a-z0-9-]+\.(html|js|css|svg)$/.test(file)) throw new HttpError(404, 'not found')
  let body: Buffer
  try { body = await fs.readFile(path.join(WEB_ROOT, 'explorer', file)) } catch { throw new HttpError(404, 'not found') }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' })
  res.end(body)
}
