// Issue 7, done-when 3 (the schedule half) and the sim command's input checks: one seed gives
// one schedule, byte for byte; another seed gives another; bad flags name themselves.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SimFlagError, simOptions } from '../../sim/options.js'
import { Prng, scheduleHash } from '../../sim/schedule.js'
import { buildSchedule, SCENARIOS } from '../../sim/scenarios/index.js'

const input = (scenario: string, seed: number) => ({ scenario, nodes: 60, seed, durationMs: 40_000, baseEpochMs: 4000, baseHeartbeatMs: 1000, dilation: 1 })

test('the same seed gives the same schedule for every scenario; another seed another one', () => {
  for (const name of Object.keys(SCENARIOS)) {
    const a = buildSchedule(input(name, 7))
    const b = buildSchedule(input(name, 7))
    const c = buildSchedule(input(name, 8))
    assert.equal(a, b, name)
    assert.is(scheduleHash(a), scheduleHash(b), name)
    assert.is.not(scheduleHash(a), scheduleHash(c), `${name}: seeds 7 and 8`)
    assert.ok(a.events.length > 0, `${name} has events`)
    for (let i = 1; i < a.events.length; i++) assert.ok((a.events[i]?.at ?? 0) >= (a.events[i - 1]?.at ?? 0), 'events in time order')
  }
})

test('scenarios plant what they promise', () => {
  const cheaters = buildSchedule(input('cheaters', 3))
  for (const kind of ['fake-class', 'slow', 'replay', 'offline']) assert.ok(cheaters.nodes.some(n => n.behaviour === kind), kind)
  assert.ok(cheaters.nodes.filter(n => n.behaviour !== 'honest').every(n => !n.dhtServer), 'cheaters are DHT clients')
  const churn = buildSchedule(input('churn', 3))
  const providers = churn.nodes.filter(n => n.role === 'provider' && n.initial).length
  const epochs = Math.floor(churn.durationMs / churn.epochMs)
  const leaves = churn.events.filter(e => e.kind === 'leave').length
  const joins = churn.events.filter(e => e.kind === 'join').length
  assert.is(leaves, joins)
  assert.ok(leaves + joins >= 0.2 * providers * (epochs - 1), `20 % of ${providers} providers per epoch: ${leaves} leaves, ${joins} joins over ${epochs - 1} epochs`)
  const servers = buildSchedule({ ...input('steady', 1), nodes: 1000 }).nodes.filter(n => n.dhtServer).length
  assert.ok(servers <= 40, `at most 40 DHT servers at 1000 nodes (${servers})`)
})

test('the PRNG is seeded and spreads', () => {
  const a = new Prng(42)
  const b = new Prng(42)
  const xs = [...Array(1000).keys()].map(() => a.next())
  assert.equal(xs, [...Array(1000).keys()].map(() => b.next()))
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length
  assert.ok(mean > 0.45 && mean < 0.55, `mean ${mean}`)
  assert.ok(xs.every(x => x >= 0 && x < 1))
})

test('bad flags are errors that name the flag', () => {
  const bad: Array<[Record<string, string>, string]> = [
    [{}, '--scenario'],
    [{ scenario: 'nope' }, '--scenario'],
    [{ scenario: 'steady', nodes: '3' }, '--nodes'],
    [{ scenario: 'steady', nodes: 'many' }, '--nodes'],
    [{ scenario: 'cheaters', nodes: '9' }, '--nodes'],
    [{ scenario: 'steady', duration: 'soon' }, '--duration'],
    [{ scenario: 'steady', duration: '5s' }, '--duration'],
    [{ scenario: 'steady', dilation: '0.5' }, '--dilation'],
    [{ scenario: 'steady', seed: '-1' }, '--seed'],
    [{ scenario: 'steady', startRate: '-1' }, '--start-rate'],
    [{ scenario: 'steady', gossipHeartbeatMs: '10' }, '--gossip-heartbeat-ms'],
    [{ scenario: 'steady', shards: '0' }, '--shards'],
    [{ scenario: 'steady', transport: 'udp' }, '--transport'],
    [{ scenario: 'steady', shards: '2', transport: 'memory' }, '--transport'],
    [{ scenario: 'partition', nodes: '16', shards: '2' }, '--shards'],
    [{ scenario: 'steady', shards: '2', latencyMs: '5' }, '--latency-ms']
  ]
  for (const [flags, flag] of bad) {
    try {
      simOptions(flags)
      assert.unreachable(JSON.stringify(flags))
    } catch (err) {
      assert.instance(err, SimFlagError, JSON.stringify(flags))
      assert.ok((err as Error).message.startsWith(`${flag}:`), (err as Error).message)
    }
  }
  const ok = simOptions({ scenario: 'steady', nodes: '300', duration: '90s', dilation: '2' })
  assert.equal([ok.nodes, ok.durationMs, ok.dilation, ok.seed, ok.shards, ok.transport], [300, 90_000, 2, 1, 1, 'memory'])
  const sharded = simOptions({ scenario: 'steady', shards: '2' })
  assert.equal([sharded.shards, sharded.transport, sharded.inProcessLinks], [2, 'tcp', true])
  assert.is(simOptions({ scenario: 'steady', shards: '2', kernelLinks: true }).inProcessLinks, false)
})

test.run()
