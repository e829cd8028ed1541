// Retry delays for work that fails when the network is busy (DHT provides and puts while
// hundreds of nodes start at once): doubling, capped, and jittered so that the nodes that
// failed together do not all retry together.

/** The delay before retry number `failures` (1 = after the first failure): in [½, 1] × min(maxMs, firstMs × 2^(failures − 1)). */
export function jitteredBackoff (failures: number, firstMs: number, maxMs: number): number {
  const base = Math.min(maxMs, firstMs * 2 ** Math.max(0, failures - 1))
  return base / 2 + Math.random() * base / 2
}
