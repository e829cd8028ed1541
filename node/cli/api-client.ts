// The CLI's client for a node's HTTP API: one clear line when the node cannot be reached.
import { KaisarError } from '../errors.js'

export class ApiUnreachableError extends KaisarError<{ code: 'API_UNREACHABLE', url: string }> {
  constructor (url: string, why: string) {
    super({ code: 'API_UNREACHABLE', url }, `cannot reach the node API at ${url}: ${why} (is the node running? set --api URL)`)
  }
}

export class ApiRequestError extends KaisarError<{ code: 'API_ERROR', url: string, status: number }> {
  constructor (url: string, status: number, message: string) {
    super({ code: 'API_ERROR', url, status }, `${url}: ${status} ${message}`)
  }
}

export const DEFAULT_API_URL = 'http://127.0.0.1:7001'

export function apiUrl (base: string | undefined, path: string): string {
  const root = (base ?? process.env.KAISAR_API_URL ?? DEFAULT_API_URL).replace(/\/+$/, '')
  return `${/^https?:\/\//.test(root) ? root : `http://${root}`}${path}`
}

export async function getJson<T> (base: string | undefined, path: string, timeoutMs = 10_000): Promise<T> {
  const url = apiUrl(base, path)
  let res: Response
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause
    throw new ApiUnreachableError(url, cause?.code ?? (err as Error).message)
  }
  const text = await res.text()
  if (!res.ok) {
    let message = text
    try { message = (JSON.parse(text) as { error?: string }).error ?? text } catch {}
    throw new ApiRequestError(url, res.status, message)
  }
  return JSON.parse(text) as T
}
