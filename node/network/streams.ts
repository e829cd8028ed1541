// Backpressure for libp2p v3 streams. `send()` returns false when the outgoing buffer is
// full and the async iterator applies none; `stream.onDrain()` (@libp2p/utils 7.4.1) caches
// its promise and stops waiting after the first drain, so wait for the `drain` event itself.
import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export async function waitDrain (stream: Stream): Promise<void> {
  if (!stream.writableNeedsDrain) return
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => { stream.removeEventListener('close', onClose); resolve() }
    const onClose = (): void => { stream.removeEventListener('drain', onDrain); reject(new Error('stream closed while waiting to drain')) }
    stream.addEventListener('drain', onDrain, { once: true })
    stream.addEventListener('close', onClose, { once: true })
  })
}

/** Sends `data`, waiting for the stream to drain when its buffer is full. */
export async function sendWithBackpressure (stream: Stream, data: Uint8Array | Uint8ArrayList): Promise<void> {
  if (!stream.send(data)) await waitDrain(stream)
}
