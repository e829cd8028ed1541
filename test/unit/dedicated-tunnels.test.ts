// node/user/dedicated-tunnels.ts: the spare a forwarded port keeps handshaken ahead of use. With a
// stand-in for the splice and handshake (each "tunnel" records what happened to it), the spare must
// be what a new connection gets, be replaced when taken and when old, never be handed out once
// closed, and be closed with the forward.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DedicatedTunnels } from '../../node/user/dedicated-tunnels.js'
import { TunnelRefusedError } from '../../node/errors.js'
import type { DialedTunnel, HandshakenTunnel } from '../../node/network/splice/dedicated-tunnel.js'

interface Fake extends HandshakenTunnel { id: number, closed: boolean, opened?: string, alive: boolean }

function stand (opts: { refuse?: boolean } = {}): { made: Fake[], prepare: () => Promise<HandshakenTunnel | undefined> } {
  const made: Fake[] = []
  const prepare = async (): Promise<HandshakenTunnel | undefined> => {
    await new Promise(resolve => setTimeout(resolve, 5)) // a splice and a handshake take a while
    const fake: Fake = {
      id: made.length,
      closed: false,
      alive: true,
      get usable () { return this.alive && !this.closed && this.opened == null },
      close () { this.closed = true },
      async open (token: string, port: number) {
        if (opts.refuse === true) throw new TunnelRefusedError('bad-token', 'no')
        if (!this.alive) throw new Error('socket closed')
        this.opened = `${token}:${port}`
        return { id: this.id } as unknown as DialedTunnel
      }
    }
    made.push(fake)
    return fake
  }
  return { made, prepare }
}
const idOf = (t: DialedTunnel | undefined): number => (t as unknown as { id: number }).id
const settle = async (ms = 20): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

test('a connection gets the spare made ahead of it, and a new spare is started', async () => {
  const { made, prepare } = stand()
  const tunnels = new DedicatedTunnels(prepare)
  tunnels.start()
  await settle()
  assert.is(made.length, 1, 'one spare, before any connection')
  const first = await tunnels.open('tok', 80)
  assert.is(idOf(first), 0, 'the spare')
  assert.is(made[0]?.opened, 'tok:80')
  await settle()
  assert.is(made.length, 2, 'and the next spare')
  assert.is(idOf(await tunnels.open('tok', 81)), 1)
  tunnels.close()
  await settle()
  assert.ok(made.every(t => t.opened != null || t.closed), 'the last spare closed with the forward')
  assert.is(made.length, 3, 'no spare after close')
})

test('a spare that died (closed by the gateway or the provider) is not handed out', async () => {
  const { made, prepare } = stand()
  const tunnels = new DedicatedTunnels(prepare)
  tunnels.start()
  await settle()
  ;(made[0] as Fake).alive = false
  const t = await tunnels.open('tok', 80)
  assert.is.not(idOf(t), 0)
  assert.ok(made[0]?.closed, 'the dead spare was closed')
  tunnels.close()
})

test('an old spare is replaced before the provider stops waiting for its header', async () => {
  const { made, prepare } = stand()
  const tunnels = new DedicatedTunnels(prepare, 30)
  tunnels.start()
  await settle(100)
  assert.ok(made.length >= 3, `replaced every 30 ms (${made.length} made)`)
  assert.ok(made.slice(0, -1).every(t => t.closed), 'each replaced spare closed')
  tunnels.close()
})

test('a refusal reaches the caller; without a gateway there is no tunnel', async () => {
  const refusing = stand({ refuse: true })
  const tunnels = new DedicatedTunnels(refusing.prepare)
  tunnels.start()
  try {
    await tunnels.open('forged', 80)
    assert.unreachable('refused')
  } catch (err) {
    assert.instance(err, TunnelRefusedError)
  }
  tunnels.close()
  const none = new DedicatedTunnels(async () => undefined)
  none.start()
  assert.is(await none.open('tok', 80), undefined)
  none.close()
})

test.run()
