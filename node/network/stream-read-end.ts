// A libp2p stream read with `for await` can lose the data that arrived before the reader started.
//
// In @libp2p/utils 7.4.1, `AbstractMessageStream[Symbol.asyncIterator]` ends its output on the
// stream's 'remoteCloseWrite' event. Data that arrived while nobody listened waits in the stream's
// read buffer, and adding the 'message' listener only queues its dispatch as a microtask. If the
// remote's close-write is processed before that microtask runs, the iterator has already ended
// when the buffered data is dispatched, and the data is dropped (the output ignores pushes after
// its end). libp2p starts an inbound handler only after an awaited peer-store merge, so a request
// that is written and closed at once (ping: 32 bytes, then close) can land exactly in that window.
// Seen in the simulator: a DHT server's ping handler saw no bytes, echoed nothing, and the client
// never added the server to its routing table (kad-dht pings every new contact first), so every
// lookup of that client found nothing. Which requests land in the window depends on timing only.
//
// The replacement below ends the iteration when the remote has closed its writable end *and* the
// read buffer is empty: checked when the reader starts, after every message, on 'remoteCloseWrite'
// and on 'end'. A graceful 'close' with data still buffered waits for that data; a 'close' with an
// error ends with the error once what was already received has been read, as before.
import { AbstractMessageStream } from '@libp2p/utils'
import type { StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

type Chunk = Uint8Array | Uint8ArrayList

async function * readUntilRemoteEnd (this: AbstractMessageStream): AsyncGenerator<Chunk> {
  if (this.readStatus !== 'readable' && this.readStatus !== 'paused') return
  // A FIFO with a moving head: Array#shift is O(n), and a bulk stream read by a slower consumer
  // can queue thousands of chunks.
  let queue: Chunk[] = []
  let head = 0
  let ended = false
  let error: Error | undefined
  let wake: (() => void) | undefined
  const notify = (): void => { const w = wake; wake = undefined; w?.() }
  const remoteDone = (): boolean => this.remoteWriteStatus === 'closed' && this.readBufferLength === 0
  const onMessage = (evt: StreamMessageEvent): void => {
    queue.push(evt.data)
    if (remoteDone()) ended = true
    notify()
  }
  const onRemoteEnd = (): void => {
    if (remoteDone()) { ended = true; notify() }
  }
  const onClose = (evt: StreamCloseEvent): void => {
    if (evt.error != null) error = evt.error
    if (evt.error != null || this.readBufferLength === 0) ended = true
    notify()
  }
  this.addEventListener('message', onMessage)
  this.addEventListener('remoteCloseWrite', onRemoteEnd)
  this.addEventListener('end', onRemoteEnd)
  this.addEventListener('close', onClose)
  if (remoteDone()) ended = true
  try {
    while (true) {
      if (head < queue.length) {
        const next = queue[head++] as Chunk
        if (head === queue.length) { queue = []; head = 0 } else if (head >= 1024 && head * 2 >= queue.length) { queue = queue.slice(head); head = 0 }
        yield next
        continue
      }
      if (error != null) throw error
      if (ended) return
      await new Promise<void>(resolve => { wake = resolve })
    }
  } finally {
    this.removeEventListener('message', onMessage)
    this.removeEventListener('remoteCloseWrite', onRemoteEnd)
    this.removeEventListener('end', onRemoteEnd)
    this.removeEventListener('close', onClose)
  }
}

/** libp2p's own iterator, kept for the test that shows the race (test/unit/stream-read-end.test.ts). */
export const libp2pStreamIterator: (this: AbstractMessageStream) => AsyncGenerator<Chunk> = AbstractMessageStream.prototype[Symbol.asyncIterator]

let installed = false

/** Replaces every libp2p stream's async iterator (once per process); see the top of this file for why. */
export function fixStreamReadEnd (): void {
  if (installed) return
  installed = true
  Object.defineProperty(AbstractMessageStream.prototype, Symbol.asyncIterator, { value: readUntilRemoteEnd, writable: true, configurable: true })
}
