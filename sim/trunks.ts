// Joins the simulator's processes by link trunks (node/network/link-trunk.ts says why): each
// process listens on one loopback port, and connects to the processes started before it, so
// every pair shares one socket. Their nodes' links then go through the trunks, not through a
// TCP connection each.
import net from 'node:net'
import type { InProcessLinks } from '../node/network/in-process-links.js'

export interface TrunkPort {
  /** Where the other processes connect. */
  port: number
  /** Connects a trunk to each process listening at `ports` (on loopback). */
  connectTo: (ports: number[]) => Promise<void>
  /** Stops listening and closes every trunk (their links abort). */
  close: () => void
}

export async function openTrunkPort (links: InProcessLinks): Promise<TrunkPort> {
  const server = net.createServer(socket => { links.attach(socket, false) })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  return {
    port: (server.address() as net.AddressInfo).port,
    connectTo: async ports => {
      await Promise.all(ports.map(async port => {
        await new Promise<void>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1')
          socket.once('error', reject)
          socket.once('connect', () => { socket.off('error', reject); links.attach(socket, true); resolve() })
        })
      }))
    },
    close: () => { server.close(); links.closeTrunks() }
  }
}
