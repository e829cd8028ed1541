// The node's state store: LevelDB under the data dir, or an in-memory level in the
// simulator and in unit tests. Modules take this type, never a concrete class.
import type { AbstractLevel, AbstractSublevel } from 'abstract-level'

export type StateDb = AbstractLevel<string | Buffer | Uint8Array, string, Uint8Array>
export type SubDb<V = string> = AbstractSublevel<StateDb, string | Buffer | Uint8Array, string, V>
