// Typed errors in Lodestar's style: one class per subsystem, a `code` that callers
// switch on, and metadata that logs can carry without parsing the message.

export interface ErrorMeta { code: string, [key: string]: unknown }

export class KaisarError<M extends ErrorMeta = ErrorMeta> extends Error {
  readonly type: M
  constructor (type: M, message?: string) {
    super(message ?? type.code)
    this.type = type
    this.name = new.target.name
  }

  get code (): M['code'] { return this.type.code }
}

/** A bad value given by the operator: config file, env, flags. Printed as one line, never with a stack. */
export class ConfigError extends KaisarError<{ code: 'CONFIG_INVALID', key: string, reason: string }> {
  constructor (key: string, reason: string) {
    super({ code: 'CONFIG_INVALID', key, reason }, `config: ${key}: ${reason}`)
  }
}

/** The node could not start for a reason the operator can fix (port in use, data dir unwritable, ...). */
export type StartupErrorCode = 'DATA_DIR_UNWRITABLE' | 'DATA_DIR_LOCKED' | 'ADDRESS_IN_USE' | 'ADDRESS_UNAVAILABLE' | 'KEYSTORE_INVALID' | 'PASSPHRASE_WRONG'
export class StartupError extends KaisarError<{ code: StartupErrorCode, detail?: string }> {
  constructor (code: StartupErrorCode, message: string, detail?: string) {
    super({ code, detail }, message)
  }
}

/** A provider refused a tunnel (the code of its reply: bad-token, expired, port-not-granted, …), on a stream or a dedicated tunnel. */
export class TunnelRefusedError extends KaisarError<{ code: string }> {
  constructor (code: string, message: string) { super({ code }, `tunnel refused (${code}): ${message}`) }
}

/** Errors the operator should see as one line (no stack trace unless debugging). */
export function isOperatorError (err: unknown): err is KaisarError {
  return err instanceof KaisarError
}

export function errorMessage (err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}

/** Node's system errors carry `code` (EADDRINUSE, EACCES, ...). */
export function systemErrorCode (err: unknown): string | undefined {
  if (typeof err === 'object' && err != null && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code
  }
  return undefined
}
