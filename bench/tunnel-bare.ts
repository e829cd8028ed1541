// The `bare` path of the tunnel bench: a dedicated tunnel's data plane without its handshake, as a
// yardstick for the product's spliced path (same shape: user end → gateway copy → provider end →
// target). Run as three processes by bench/tunnel.ts:
//   end --plain accepted --next HOST:PORT   the user's end: bytes from the application are sealed
//   copy --next HOST:PORT                    the gateway: the product's own splice copy, both ways
//   end --plain next --next HOST:PORT       the provider's end: opens records, plaintext to the target
// Each end is the product's sealed pipe (node/network/sealed-pipe.ts: AES-256-GCM records behind
// a 2-byte length, as Noise frames them) with fixed keys: no Noise handshake, no lease token, no
// libp2p node. What the spliced path costs above it is the handshake and the node around it.
// Prints {"port"} on stdout when ready; exits when stdin closes.
import net from 'node:net'
import { flagValue } from './args.js'
import { parseHostPort } from '../node/config/schema.js'
import { spliceCopy } from '../node/roles/gateway/splice-copy.js'
import { TUNNEL_SOCKET_OPTIONS } from '../node/network/tunnel-pipe.js'
import { pipeSealed } from '../node/network/sealed-pipe.js'

/** Fixed record keys, one per direction: no handshake here. */
const UP = Buffer.alloc(32, 0x42)
const DOWN = Buffer.alloc(32, 0x24)

/** A socket that fails takes the other with it (a clean end passes through as a half-close instead). */
function linkFates (a: net.Socket, b: net.Socket): void {
  const fail = (): void => { a.destroy(); b.destroy() }
  for (const s of [a, b]) { s.on('error', fail); s.on('close', hadError => { if (hadError) fail() }) }
}

/**
 * A tunnel end between the socket it accepted and the one it opened onward: the side named by
 * `plain` carries plaintext (the application's on the user's end, the target's on the provider's).
 */
export function joinEnd (accepted: net.Socket, onward: net.Socket, plain: 'accepted' | 'next'): void {
  const keys = plain === 'accepted' ? { send: UP, receive: DOWN } : { send: DOWN, receive: UP }
  const [plainSide, sealedSide] = plain === 'accepted' ? [accepted, onward] : [onward, accepted]
  void pipeSealed(plainSide, sealedSide, keys)
}

if (process.argv[1]?.endsWith('tunnel-bare.js') === true) {
  const [role, ...rest] = process.argv.slice(2)
  const next = parseHostPort(flagValue(rest, '--next') ?? '')
  const plain = flagValue(rest, '--plain')
  if (next == null || (role !== 'copy' && !(role === 'end' && (plain === 'accepted' || plain === 'next')))) {
    throw new Error('usage: tunnel-bare.js end --plain accepted|next --next HOST:PORT | copy --next HOST:PORT')
  }
  const server = net.createServer(TUNNEL_SOCKET_OPTIONS, accepted => {
    const onward = net.connect({ ...TUNNEL_SOCKET_OPTIONS, ...next })
    if (role === 'end') { joinEnd(accepted, onward, plain as 'accepted' | 'next'); return }
    linkFates(accepted, onward)
    accepted.pause()
    onward.once('connect', () => { spliceCopy(accepted, onward); spliceCopy(onward, accepted) })
  })
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as net.AddressInfo).port }) + '\n')
  })
  process.stdin.resume()
  process.stdin.on('end', () => { process.exit(0) })
}
