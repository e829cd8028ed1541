// The roles and log levels the CLI names in its help and checks before anything else runs.
// A module of its own, with no imports: the command definitions need these words, and loading
// the config schema (zod, multiaddr) only to print `--help` would make every command slower.
export const ROLES = ['provider', 'checker', 'gateway'] as const
export type Role = typeof ROLES[number]

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]
