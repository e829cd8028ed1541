// The Explorer is served by a node's API: `/` leads to it, its files come from web/explorer,
// nothing outside that directory can be named, and the data it reads is the node's own API.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { killAll, loopbackArgs, startNode } from '../helpers/cli.js'
import { removeTempDirs, tempDir } from '../helpers/tmp.js'

test.after(async () => { await killAll(); await removeTempDirs() })

test('the Explorer is served at / with its assets, and only those', async () => {
  const gw = await startNode(loopbackArgs('gateway', await tempDir()))
  const root = await fetch(`${gw.ready.api}/`, { redirect: 'manual' })
  assert.is(root.status, 302)
  assert.is(root.headers.get('location'), '/explorer/')
  const page = await fetch(`${gw.ready.api}/explorer/`)
  assert.is(page.status, 200)
  assert.match(page.headers.get('content-type') ?? '', /text\/html/)
  assert.match(await page.text(), /Kaisar Explorer/)
  const app = await fetch(`${gw.ready.api}/explorer/app.js`)
  assert.match(app.headers.get('content-type') ?? '', /javascript/)
  assert.match(await app.text(), /\/api\/v1\/status/)
  for (const bad of ['/explorer/..%2Fpackage.json', '/explorer/%2e%2e%2fREADME.md', '/explorer/nope.js']) {
    assert.is((await fetch(`${gw.ready.api}${bad}`)).status, 404, bad)
  }
  await gw.stop()
})

test.run()
