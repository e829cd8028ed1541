// Waiting on work that takes no AbortSignal, bounded by one; and waiting out a delay unless aborted.
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * `p`, or the signal's abort, whichever comes first. `p` keeps running (it may be shared with
 * other waiters); its late failure after the abort won is nobody's business.
 */
export async function raceSignal<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  p.catch(() => {})
  if (signal.aborted) throw signal.reason as Error
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { onAbort = () => { reject(signal.reason as Error) }; signal.addEventListener('abort', onAbort, { once: true }) })])
  } finally {
    if (onAbort != null) signal.removeEventListener('abort', onAbort)
  }
}

/** Waits `ms` (none if ≤ 0): true, or false when `signal` aborted first (or already had). */
export async function delayUnlessAborted (ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(Math.max(0, ms), undefined, { signal })
    return true
  } catch {
    return false
  }
}
