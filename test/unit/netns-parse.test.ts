// The pure parts of sim/netns (no root needed): its command line and the /proc/net/tcp reader
// that tells which TCP connections carried a lease's bytes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseRunArgs } from '../../sim/netns/args.js'
import { decodeProcAddress, establishedConnections } from '../../sim/netns/scenario.js'

test('run.js arguments: durations, percentages, --keep; bad values are refused', () => {
  assert.equal(parseRunArgs([]), { latencyMs: 0, lossPercent: 0, keep: false })
  assert.equal(parseRunArgs(['--latency', '50ms', '--loss', '1%', '--keep']), { latencyMs: 50, lossPercent: 1, keep: true })
  assert.equal(parseRunArgs(['--latency', '0.2s', '--loss', '0.5']), { latencyMs: 200, lossPercent: 0.5, keep: false })
  assert.throws(() => parseRunArgs(['--latency', 'fast']), /--latency/)
  assert.throws(() => parseRunArgs(['--loss', '100%']), /--loss/)
  assert.throws(() => parseRunArgs(['--jitter', '5ms']), /unknown argument/)
})

test('/proc/net/tcp addresses are little-endian IPv4 and hex ports', () => {
  assert.is(decodeProcAddress('0A004D0A:0FA1'), '10.77.0.10:4001')
  assert.is(decodeProcAddress('0100007F:1B59'), '127.0.0.1:7001')
})

test('only established connections are listed', () => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0A004D0A:0FA1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0',
    '   1: 0B004D0A:D3C4 0A004D0A:0FA1 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1',
    '   2: 0B004D0A:D3C6 0A004D0A:0FA1 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0'
  ].join('\n')
  assert.equal(establishedConnections(table), [{ local: '10.77.0.11:54212', remote: '10.77.0.10:4001' }])
})

test.run()
