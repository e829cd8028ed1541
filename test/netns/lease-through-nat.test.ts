// Issue 7 (a): a provider behind NAT (its own namespace behind a masquerading router, no public
// address, listening only through the gateway's relay) serves a lease. The user, in another
// namespace, orders with the real CLI, gets "deployed", and an HTTP request through
// `kaisar-node connect` returns the container's answer. What carried the bytes is measured from
// each namespace's TCP table: the user's only connection is to the gateway, and so is the
// provider's. Afterwards none of the run's namespaces or processes are left.
// Needs root: without it (or without namespace support) this test FAILS with the reason.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { NetnsScenario, type ScenarioSummary } from '../../sim/netns/scenario.js'
import { namespacesOf, pidAlive } from '../../sim/netns/topology.js'

const scenario = new NetnsScenario({ latencyMs: 0, lossPercent: 0, runId: `${process.pid}-nat`, timeoutMs: 60_000 })
test.after(async () => { await scenario.cleanup(true) })

test('a NATed provider serves a lease through the gateway relay; nothing is left afterwards', async () => {
  let summary: ScenarioSummary
  try {
    summary = await scenario.run()
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- provider ---\n${scenario.logsOf('provider').slice(-2000)}\n--- gateway ---\n${scenario.logsOf('gateway').slice(-2000)}`)
  }
  console.log(`netns (a): ${JSON.stringify({ setupS: summary.setupS, nodesReadyS: summary.nodesReadyS, orderToDeployedS: summary.orderToDeployedS, tunnelFirstResponseS: summary.tunnelFirstResponseS, viaRelay: summary.viaRelay, spliced: summary.spliced, connectPath: summary.connectPath, dcutrUpgraded: summary.dcutrUpgraded })}`)
  const gw = summary.gateway.address.split('/')[2] as string

  // The provider has no address of its own: only circuit addresses through this gateway.
  assert.ok(summary.provider.addresses.length > 0, 'the provider has a relay address')
  assert.ok(summary.provider.allRelayed, `only /p2p-circuit addresses via the gateway: ${summary.provider.addresses.join(' ')}`)
  assert.ok(summary.providerUnreachableDirectly, 'the user cannot open a TCP connection to the provider\'s LAN address')

  assert.ok(summary.lease.events.includes('deployed'), `events: ${summary.lease.events.join(', ')}`)
  assert.is(summary.httpBody, 'kaisar-sim\n', 'the container\'s answer came through the tunnel')

  // What carried it: TCP connections only to the gateway, on both ends.
  assert.ok(summary.userConnections.length > 0 && summary.userConnections.every(c => c.remote.startsWith(`${gw}:`)), `user: ${JSON.stringify(summary.userConnections)}`)
  assert.ok(summary.providerConnections.some(c => c.remote.startsWith(`${gw}:`)), `provider: ${JSON.stringify(summary.providerConnections)}`)
  assert.ok(summary.viaRelay, 'through the relay')
  assert.ok(summary.spliced, 'the tunnel through the gateway\'s splice port')
  assert.is(summary.connectPath, 'spliced', '`connect` says so')
  assert.not.ok(summary.dcutrUpgraded)

  // Cleanup: every process inside the namespaces ends and the namespaces go.
  const pids = await scenario.topology?.processes() ?? []
  assert.ok(pids.length >= 2, 'the nodes ran inside the namespaces')
  await scenario.cleanup(true)
  assert.equal(await namespacesOf(process.pid), [], 'no namespace of this run is left')
  assert.equal(pids.filter(pidAlive), [], 'no process of this run is left')
})

test.run()
