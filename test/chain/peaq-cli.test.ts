// Issue 3, done-when 4 against a real peaq runtime: `kaisar-node start --chain ws://…` runs a
// node on peaq and `kaisar-node wallet` shows its address and its balance read from the chain.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { killAll, loopbackArgs, runCli, startNode } from '../helpers/cli.js'
import { UNIT, devApi, fund, keyring, peaqSuiteEnabled, startChopsticks, stopAllChopsticks } from '../helpers/peaq.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'

if (peaqSuiteEnabled(test, 'test/chain/peaq-cli.test.ts')) {
  test.after(async () => { await killAll(); await stopAllChopsticks(); await removeTempDirs() })

  test('start --chain ws://… runs on peaq; wallet shows the address and the chain balance', async () => {
    const chain = await startChopsticks()
    const escrow = (await keyring()).addFromUri(`//kaisar-cli-escrow-${process.pid}`).address
    const node = await startNode(loopbackArgs('checker', await tempDir(), ['--chain', chain.url, '--peaq-escrow', escrow]), { timeoutMs: 120_000 })
    const api = await devApi(chain.url)
    await fund(api, [{ to: node.ready.wallet, amount: 7n * UNIT }])
    await api.disconnect()
    const r = await runCli(['wallet', '--api', node.ready.api, '--json'])
    assert.is(r.code, 0, r.stderr)
    const w = JSON.parse(r.stdout) as { address: string, chain: string, free: string, symbol: string, decimals: number }
    assert.is(w.address, node.ready.wallet)
    assert.is(w.chain, chain.url)
    assert.is(w.decimals, 18)
    assert.is(BigInt(w.free), 7n * UNIT)
    await node.stop()
  })

  test.run()
}
