// libp2p's logger (node/network/libp2p-logger.ts): with DEBUG unset every component and scope
// gets one shared silent logger; DEBUG, or enableLibp2pDebug, brings libp2p's own back.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { enableLibp2pDebug, libp2pLogger } from '../../node/network/libp2p-logger.js'

test('DEBUG unset: one silent logger for every component and scope', () => {
  const logger = libp2pLogger('')
  const tcp = logger.forComponent('libp2p:tcp')
  assert.is(tcp.enabled, false)
  assert.is(tcp.newScope('connection'), tcp, 'a scope builds nothing new')
  assert.is(logger.forComponent('libp2p:yamux'), tcp)
  tcp('%s', 'nothing printed')
  tcp.error('nothing printed')
  tcp.trace('nothing printed')
  assert.is(libp2pLogger(undefined).forComponent('x'), tcp)
})

test('DEBUG set: libp2p\'s own loggers, one per scope', () => {
  const silent = libp2pLogger('').forComponent('libp2p:tcp')
  const logger = libp2pLogger('libp2p:tcp')
  const tcp = logger.forComponent('libp2p:tcp')
  assert.is.not(tcp, silent)
  assert.is.not(tcp.newScope('connection'), tcp)
  assert.is.not(logger.forComponent('libp2p:yamux'), tcp)
})

test('enableLibp2pDebug (the trace log level) brings them back without DEBUG', () => {
  const silent = libp2pLogger('').forComponent('libp2p:ping')
  enableLibp2pDebug('libp2p:ping')
  const ping = libp2pLogger('').forComponent('libp2p:ping')
  assert.is.not(ping, silent)
  assert.is.not(ping.newScope('x'), ping)
})

test.run()
