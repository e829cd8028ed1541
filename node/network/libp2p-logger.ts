// libp2p's component logger, built only when its debug output is switched on.
//
// Why: libp2p makes a logger for every connection, stream and protocol negotiation
// (`newScope`), and @libp2p/logger builds three `debug` instances for each, which test the
// DEBUG patterns and ask `isatty` every time. With DEBUG unset none of them ever prints, yet
// building them took ≈ 1 % of a 300-node simulator worker's CPU samples (none with this). When
// DEBUG names nothing, every libp2p logger is the same silent one: what it prints is unchanged
// (nothing); `DEBUG=libp2p:*` and the trace log level (node/log.ts) work as before.
import { defaultLogger, enable } from '@libp2p/logger'
import type { ComponentLogger, Logger } from '@libp2p/interface'

const silent: Logger = Object.assign(() => {}, {
  error: () => {},
  trace: () => {},
  enabled: false,
  newScope: (): Logger => silent
})

const silentComponents: ComponentLogger = { forComponent: () => silent }

/** Set by enableLibp2pDebug: libp2p's debug output was switched on in this process. */
let enabledHere = false

/** Switches libp2p's debug output on for these patterns (DEBUG syntax), for the networks created after. */
export function enableLibp2pDebug (patterns: string): void {
  enable(patterns)
  enabledHere = true
}

/**
 * libp2p's default logger when DEBUG is set (to anything) or enableLibp2pDebug was called,
 * else one that builds nothing and prints nothing.
 */
export function libp2pLogger (debugPatterns: string | undefined = process.env.DEBUG): ComponentLogger {
  return enabledHere || (debugPatterns != null && debugPatterns.trim() !== '') ? defaultLogger() : silentComponents
}
