// Issue 7 (b): with 50 ms delay and 1 % loss on every host's egress and through the NAT router
// (NFQUEUE + iptables statistic: this kernel has no netem), an order still completes end to end:
// order → deployed → an HTTP answer through the relayed tunnel. The delay is checked, not
// assumed: a TCP handshake user → gateway crosses two delayed egresses (≈ 100 ms).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { NetnsScenario, type ScenarioSummary } from '../../sim/netns/scenario.js'
import { namespacesOf } from '../../sim/netns/topology.js'

const LATENCY_MS = 50
const scenario = new NetnsScenario({ latencyMs: LATENCY_MS, lossPercent: 1, runId: `${process.pid}-shaped`, timeoutMs: 90_000 })
test.after(async () => { await scenario.cleanup(true) })

test('50 ms / 1 % links: order → deployed → bytes through the tunnel', async () => {
  let summary: ScenarioSummary
  try {
    summary = await scenario.run()
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- provider ---\n${scenario.logsOf('provider').slice(-2000)}\n--- gateway ---\n${scenario.logsOf('gateway').slice(-2000)}`)
  }
  console.log(`netns (b): ${JSON.stringify({ setupS: summary.setupS, tcpConnectMs: summary.tcpConnectMs, nodesReadyS: summary.nodesReadyS, orderToDeployedS: summary.orderToDeployedS, tunnelFirstResponseS: summary.tunnelFirstResponseS, viaRelay: summary.viaRelay, spliced: summary.spliced, dcutrUpgraded: summary.dcutrUpgraded })}`)
  assert.ok(summary.tcpConnectMs >= 2 * LATENCY_MS * 0.9, `the links are delayed: TCP connect took ${summary.tcpConnectMs} ms`)
  assert.ok(summary.tcpConnectMs < 2 * LATENCY_MS + 400, `and not by much more: ${summary.tcpConnectMs} ms`)
  assert.ok(summary.provider.allRelayed)
  assert.ok(summary.lease.events.includes('deployed'), `events: ${summary.lease.events.join(', ')}`)
  assert.is(summary.httpBody, 'kaisar-sim\n')
  assert.ok(summary.viaRelay)
  await scenario.cleanup(true)
  assert.equal(await namespacesOf(process.pid), [])
})

test.run()
