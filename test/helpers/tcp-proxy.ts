// A loopback TCP proxy a test can cut: existing connections are dropped and new ones refused
// until it is restored on the same port. Stands for "the chain's RPC endpoint went away".
import net from 'node:net'

export interface TcpProxy {
  port: number
  /**
   * Called with each chunk the server sends, after it is forwarded. (Server-to-client WebSocket
   * frames are not masked, so JSON-RPC method names can be spotted in them; client frames are.)
   */
  onResponse?: (chunk: Buffer) => void
  /** Drops every connection and stops listening (connection refused). */
  cut: () => Promise<void>
  /** Listens again on the same port. */
  restore: () => Promise<void>
  close: () => Promise<void>
}

export async function tcpProxy (targetPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>()
  let server: net.Server | undefined
  let port = 0
  const listen = async (): Promise<void> => {
    const s = net.createServer(client => {
      const upstream = net.connect(targetPort, host)
      for (const sock of [client, upstream]) {
        sockets.add(sock)
        sock.on('close', () => { sockets.delete(sock) })
        sock.on('error', () => { client.destroy(); upstream.destroy() })
      }
      client.pipe(upstream)
      upstream.on('data', (chunk: Buffer) => { client.write(chunk); proxy.onResponse?.(chunk) })
    })
    await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(port, host, () => { s.off('error', reject); resolve() }) })
    port = (s.address() as net.AddressInfo).port
    server = s
  }
  const cut = async (): Promise<void> => {
    const s = server
    server = undefined
    for (const sock of sockets) sock.destroy()
    sockets.clear()
    if (s != null) await new Promise(resolve => s.close(resolve))
  }
  await listen()
  const proxy: TcpProxy = { port, cut, restore: listen, close: cut }
  return proxy
}
