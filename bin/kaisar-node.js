#!/usr/bin/env node
// kaisar-node launcher. Loads the Promise.withResolvers polyfill before js-libp2p (needed
// on Node 20; a no-op on Node >= 22), then the compiled CLI. Run `npm run build` first
// when working from a source checkout (`npm ci` does it for you).
const processStart = Date.now()
await import('../dist/node/runtime/polyfill.js')
const { main } = await import('../dist/node/cli/main.js')
await main(process.argv, processStart)
