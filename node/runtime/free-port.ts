// A TCP port that is free on 127.0.0.1 now: the OS picks it for a moment and gives it back. For
// listeners whose address others must know before they start (the simulator's gateways over
// TCP, the tunnel bench's ssh, a test chain's RPC port).
import net from 'node:net'

export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as net.AddressInfo).port
  await new Promise(resolve => server.close(resolve))
  return port
}
