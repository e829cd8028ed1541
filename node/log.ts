// Structured logs (pino, JSON lines on stderr so stdout stays for command output).
// Child loggers are named by subsystem (`node`, `gossip`, `api`, ...), like Lodestar's modules.
import { enableLibp2pDebug } from './network/libp2p-logger.js'
import { pino, type Logger } from 'pino'
import type { LogLevel } from './config/schema.js'

export type { Logger }

export function createLogger (level: LogLevel, bindings: Record<string, unknown> = {}): Logger {
  // Synchronous writes: a log line written just before exit (or a crash) is not lost.
  const logger = pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }))
  // At trace level, also show libp2p's own debug logs (DEBUG=libp2p:* style) on stderr.
  if (level === 'trace') enableLibp2pDebug('libp2p:*,-libp2p:*:trace')
  return logger
}
