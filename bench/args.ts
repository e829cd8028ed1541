// Reading a bench script's `--name VALUE` arguments. Its own module, without dependencies, so a
// process that must stay lean (tunnel-bare.ts, a yardstick) can use it without loading libp2p.

/** The value after `--name` in `args`, or undefined when the flag is absent. */
export function flagValue (args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
