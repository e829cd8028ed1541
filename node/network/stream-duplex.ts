// A libp2p v3 stream as a Node Duplex, for APIs that want a socket-like object (the gateway's
// HTTP ingress hands one to http.request as its connection). Backpressure both ways: a full
// stream holds the writer's callback until 'drain'; a Duplex buffer over its high-water mark
// pauses the stream until Node reads again.
import { Duplex } from 'node:stream'
import { waitDrain } from './streams.js'
import type { Stream } from '@libp2p/interface'

export function streamDuplex (stream: Stream): Duplex {
  const duplex: Duplex = new Duplex({
    allowHalfOpen: true,
    write (chunk: Buffer, _enc, callback) {
      if (stream.send(chunk)) { callback(); return }
      waitDrain(stream).then(() => { callback() }, err => { callback(err as Error) })
    },
    final (callback) {
      stream.close().then(() => { callback() }, err => { callback(err as Error) })
    },
    read () {
      stream.resume()
    },
    destroy (err, callback) {
      if (stream.status === 'open') {
        if (err != null) stream.abort(err)
        else void stream.close().catch(() => {})
      }
      callback(err)
    }
  })
  stream.addEventListener('message', evt => {
    if (!duplex.push(Buffer.from(evt.data.subarray()))) stream.pause()
  })
  stream.addEventListener('remoteCloseWrite', () => { duplex.push(null) })
  stream.addEventListener('close', evt => {
    if (evt.error != null) duplex.destroy(evt.error)
    else duplex.push(null)
  })
  return duplex
}
