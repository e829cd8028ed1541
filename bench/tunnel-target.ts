// Stand-in for a leased container's TCP port in the tunnel benchmark, run as its own process.
// One port, two behaviours chosen by the first byte a connection sends:
//   'S' sink: counts the bytes after it and, when the client half-closes, answers the count
//   'E' echo: echoes everything after it
// A real service can replace it (`npm run bench -- tunnel --target-port P`) if it speaks this.
// Prints {"port"} on stdout when ready; exits when stdin closes.
import net from 'node:net'
import { TUNNEL_SOCKET_OPTIONS } from '../node/network/tunnel-pipe.js'

export function startTarget (port = 0, host = '127.0.0.1'): Promise<net.Server> {
  const server = net.createServer(TUNNEL_SOCKET_OPTIONS, sock => {
    let mode: 'S' | 'E' | undefined
    let bytes = 0
    sock.on('error', () => { sock.destroy() })
    sock.on('data', (d: Buffer) => {
      if (mode == null) {
        mode = d[0] === 0x45 ? 'E' : 'S'
        d = d.subarray(1)
      }
      if (mode === 'S') {
        bytes += d.byteLength
      } else if (d.byteLength > 0 && !sock.write(d)) {
        sock.pause()
        sock.once('drain', () => sock.resume())
      }
    })
    sock.on('end', () => { if (mode === 'S') sock.end(String(bytes)); else sock.end() })
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { resolve(server) })
  })
}

if (process.argv[1]?.endsWith('tunnel-target.js') === true) {
  const server = await startTarget()
  process.stdout.write(JSON.stringify({ port: (server.address() as net.AddressInfo).port }) + '\n')
  process.stdin.resume()
  process.stdin.on('end', () => { process.exit(0) })
}
