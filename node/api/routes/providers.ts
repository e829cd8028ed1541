// Routes about providers: the live heartbeat table, one provider's verified record, and
// discovery (DHT lookup + verified records + live table) with filters.
import { z } from 'zod'
import { RECORD_NAMESPACES } from '../../../protocols/ids.js'
import { ProviderRecord } from '../../../protocols/records/provider-record.js'
import { HttpError, type Router } from '../router.js'
import { parsePeerParam } from './node.js'
import type { KaisarNode } from '../../node.js'

const filterSchema = z.object({
  gpu: z.string().regex(/^[a-z0-9-]+$/, 'a GPU model id (h100-sxm) or class (datacenter)').optional(),
  min_vram: z.coerce.number().min(0).max(10_000).optional(),
  region: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code').optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  timeout_ms: z.coerce.number().int().min(100).max(60_000).optional()
}).strict()

export function providerRoutes (r: Router, node: KaisarNode): void {
  r.get('/api/v1/providers', () => {
    if (node.providerTable == null) throw new HttpError(404, 'this node keeps no provider table (ask a gateway or checker)')
    return node.providerTable.list()
  })
  r.get('/api/v1/providers/:peer/record', async ({ params }) => {
    const peer = parsePeerParam(params.peer)
    const found = await node.records.fetch(RECORD_NAMESPACES.provider, peer, AbortSignal.timeout(10_000))
    if (found == null) throw new HttpError(404, `no provider record for ${peer.toString()}`)
    return { peerId: found.signer.toString(), version: found.version, timestamp: found.timestamp, record: ProviderRecord.decode(found.payload) }
  })
  r.get('/api/v1/leases', () => {
    if (node.provider == null) throw new HttpError(404, 'only providers hold leases')
    // Tokens are the lease holder's secret: never on the API.
    return node.provider.leases.store.all().map(({ token: _token, ...lease }) => lease)
  })
  r.get('/api/v1/discovery/providers', async ({ query }) => {
    const parsed = filterSchema.safeParse(Object.fromEntries(query))
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new HttpError(400, `${issue?.path.join('.') ?? 'query'}: ${issue?.message ?? 'invalid'}`)
    }
    const f = parsed.data
    return await node.discovery.find({ gpu: f.gpu, minVramGiB: f.min_vram, region: f.region, limit: f.limit }, { timeoutMs: f.timeout_ms })
  })
}
