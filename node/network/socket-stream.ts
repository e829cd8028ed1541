// One TCP socket ↔ one libp2p stream, both ways, with backpressure and half-close
// (DESIGN §4 traps): `send()` returning false pauses the socket until the stream drains;
// a full socket pauses the stream; a FIN on either side half-closes the other; an error or
// reset on either side ends both. Resolves when both directions are done.
import type { Stream } from '@libp2p/interface'
import type { Socket } from 'node:net'

export async function pipeSocketStream (socket: Socket, stream: Stream): Promise<void> {
  await new Promise<void>(resolve => {
    let done = false
    const finish = (): void => { if (!done) { done = true; resolve() } }

    socket.on('data', (buf: Buffer) => {
      if (!stream.send(buf)) {
        socket.pause()
        const onDrain = (): void => { stream.removeEventListener('close', onClose); socket.resume() }
        const onClose = (): void => { stream.removeEventListener('drain', onDrain) }
        stream.addEventListener('drain', onDrain, { once: true })
        stream.addEventListener('close', onClose, { once: true })
      }
    })
    socket.on('end', () => { stream.close().catch(() => {}) })
    socket.on('error', err => { stream.abort(err) })
    socket.on('close', () => { if (stream.status === 'open') stream.abort(new Error('socket closed')); finish() })

    stream.addEventListener('message', evt => {
      if (!socket.write(evt.data.subarray())) {
        stream.pause()
        socket.once('drain', () => { stream.resume() })
      }
    })
    stream.addEventListener('remoteCloseWrite', () => { socket.end() })
    stream.addEventListener('close', evt => {
      if (evt.error != null) socket.destroy(evt.error)
      else socket.end()
      finish()
    })
  })
}
