#!/usr/bin/env node
// kaisar-node launcher. Loads the Promise.withResolvers polyfill before js-libp2p (needed
// on Node 20; a no-op on Node >= 22), then the compiled CLI. Run `npm run build` first
// when working from a source checkout (`npm ci` does it for you).
const processStart = Date.now()
// `start` and `connect` carry tunnel bytes: re-execute them (same pid) with --single-threaded-gc
// (a startup-only V8 flag that made the spliced tunnel 1.3–2.7× faster on 2 cores) and a 4 MiB
// young generation (1.27–1.55× more; why, and when neither applies: node/runtime/gc-flags.ts).
// Before anything else is loaded.
const { reexecWithDataPathFlags } = await import('../dist/node/runtime/gc-flags.js')
reexecWithDataPathFlags()
// V8's code cache for the modules a node loads (≈ 1,100): less compile work at every start.
// Node ≥ 22.1 keeps it in os.tmpdir()/node-compile-cache, checked against each file's content;
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. Node 20 has no such API and starts as before.
const { enableCompileCache } = await import('node:module')
enableCompileCache?.()
await import('../dist/node/runtime/polyfill.js')
const { main } = await import('../dist/node/cli/main.js')
await main(process.argv, processStart)
// The command is done: exit now rather than when the event loop drains. After a clean stop
// libp2p leaves timers behind (gossipsub's next heartbeat, the address manager's 1 s debounce),
// which held `start` and the user commands (order, cancel, leases, …) ≈ 1 s longer doing
// nothing. Whatever the command wrote is flushed first; the exit code is the command's.
await new Promise(resolve => { process.stdout.write('', resolve) })
await new Promise(resolve => { process.stderr.write('', resolve) })
process.exit()
