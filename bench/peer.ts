// The far end of the node and tunnel benchmarks, run as its own process (two nodes in one
// process would share one event loop and halve what each can do):
//  - libp2p (the product's stack): /kaisar-bench/sink/1.0.0 counts bytes and answers the
//    count when the sender closes; /kaisar-bench/echo/1.0.0 echoes.
//  - raw TCP baselines: a sink and an echo server.
// Prints {"multiaddr","tcpSink","tcpEcho"} on stdout when ready; exits when stdin closes.
import net from 'node:net'
import '../node/runtime/polyfill.js'
import { sendWithBackpressure } from '../node/network/streams.js'
import { benchNode } from './lib.js'

export const SINK = '/kaisar-bench/sink/1.0.0'
export const ECHO = '/kaisar-bench/echo/1.0.0'
const LIMITS = { maxInboundStreams: 1024, maxOutboundStreams: 1024 }

async function listen (server: net.Server): Promise<number> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as net.AddressInfo).port
}

if (process.argv[1]?.endsWith('peer.js') === true) {
  const node = await benchNode()
  await node.handle(SINK, async stream => {
    let bytes = 0
    for await (const chunk of stream) bytes += chunk.byteLength
    stream.send(new TextEncoder().encode(String(bytes)))
    await stream.close()
  }, LIMITS)
  await node.handle(ECHO, async stream => {
    for await (const chunk of stream) await sendWithBackpressure(stream, chunk)
    await stream.close()
  }, LIMITS)

  const tcpSink = await listen(net.createServer({ allowHalfOpen: true }, sock => {
    let bytes = 0
    sock.on('data', (d: Buffer) => { bytes += d.byteLength })
    sock.on('end', () => { sock.end(String(bytes)) })
  }))
  const tcpEcho = await listen(net.createServer(sock => { sock.setNoDelay(true); sock.pipe(sock) }))
  process.stdout.write(JSON.stringify({ multiaddr: node.getMultiaddrs()[0]?.toString(), tcpSink, tcpEcho }) + '\n')
  process.stdin.resume()
  process.stdin.on('end', () => { void Promise.resolve(node.stop()).then(() => process.exit(0)) })
}
