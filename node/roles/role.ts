// Roles as the config names them and as the wire (gossip envelopes) carries them.
import { NodeRole } from '../../protocols/gossip/codec.js'
import { AGENT_PREFIX } from '../../protocols/ids.js'
import type { Role } from '../config/schema.js'

const TO_WIRE: Record<Role, NodeRole> = { provider: NodeRole.PROVIDER, checker: NodeRole.CHECKER, gateway: NodeRole.GATEWAY }

export function wireRole (role: Role): NodeRole {
  return TO_WIRE[role]
}

/** identify's agent version for a role: `kaisar-node/0.1.0 (gateway)`. */
export function agentVersion (version: string, role: Role): string {
  return `${AGENT_PREFIX}${version} (${role})`
}

/** The role a peer announces in its agent version; undefined for anything that is not a kaisar node. */
export function roleFromAgent (agent: string | undefined): Role | 'user' | undefined {
  if (agent == null || !agent.startsWith(AGENT_PREFIX)) return undefined
  const m = /\((provider|checker|gateway|user)\)\s*$/.exec(agent)
  return m?.[1] as Role | 'user' | undefined
}
