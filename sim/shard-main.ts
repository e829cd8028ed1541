// Entry of a simulator shard process (forked by sim/shard.ts's ShardClient). The polyfill comes
// first, as in bin/kaisar-node.js: js-libp2p needs Promise.withResolvers, which Node 20 lacks.
await import('../node/runtime/polyfill.js')
const { runShardWorker } = await import('./shard.js')
runShardWorker(process.argv[2] ?? '?')
export {}
