// Routes about the node itself: health, Prometheus metrics, status, peers, ping.
import { peerIdFromString } from '@libp2p/peer-id'
import { HttpError, type Router } from '../router.js'
import type { KaisarNode } from '../../node.js'
import type { PeerId } from '@libp2p/interface'

export function parsePeerParam (text: string | undefined): PeerId {
  try {
    return peerIdFromString(text ?? '')
  } catch {
    throw new HttpError(400, `not a peer id: ${text ?? ''}`)
  }
}

export function nodeRoutes (r: Router, node: KaisarNode): void {
  r.get('/healthz', () => ({ ok: node.isRunning }))
  r.get('/metrics', async ({ res }) => {
    node.metrics.peersConnected.reset()
    for (const peer of node.peers()) node.metrics.peersConnected.inc({ role: peer.role ?? 'unknown' })
    res.writeHead(200, { 'content-type': node.metrics.registry.contentType })
    res.end(await node.metrics.registry.metrics())
  })
  r.get('/api/v1/status', () => node.status())
  r.get('/api/v1/peers', () => node.peers())
  r.get('/api/v1/peers/:peer/ping', async ({ params }) => {
    const peer = parsePeerParam(params.peer)
    try {
      const rttMs = await node.libp2p.services.ping.ping(peer, { signal: AbortSignal.timeout(10_000) })
      return { peerId: peer.toString(), rttMs }
    } catch (err) {
      throw new HttpError(504, `ping ${peer.toString()} failed: ${(err as Error).message}`)
    }
  })
}
