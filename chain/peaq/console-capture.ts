// @polkadot/api logs through console ("2026-01-01 00:00:00  API-WS: disconnected …"), in
// plain text between the node's JSON log lines and on every reconnect attempt, so an operator
// error ("peaq node unreachable") would arrive behind a screen of noise. These lines go to the
// node's structured logger (debug) instead; everything else on the console is left alone.
import type { Logger } from '../../node/log.js'

const POLKADOT_LINE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/
let target: Logger | undefined

export function capturePolkadotConsole (logger: Logger): void {
  if (target == null) {
    for (const method of ['log', 'warn', 'error'] as const) {
      const original = console[method].bind(console)
      console[method] = (...args: unknown[]): void => {
        const [when, type, ...rest] = args
        if (typeof when === 'string' && POLKADOT_LINE.test(when) && typeof type === 'string' && type.endsWith(':')) {
          target?.debug({ polkadot: type.slice(0, -1).trim(), level: method }, rest.map(String).join(' '))
          return
        }
        original(...args)
      }
    }
  }
  target = logger
}
