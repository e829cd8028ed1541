// Gossip for the node's services: typed topics with one validator each, metrics by
// topic and reason, handlers that only ever see validated, decoded messages.
//
// Gossipsub runs StrictNoSign with content-addressed message ids (as Ethereum's network
// does); the originator's Ed25519 signature is inside the envelope and checked here, once,
// so it can also be kept and re-verified later (a verdict inside an outcome).
import { TopicValidatorResult, type GossipSub, type GossipsubMessage, type Message, type TopicValidatorFn } from '@libp2p/gossipsub'
import { NodeRole, openEnvelope, sealEnvelope } from '../../../protocols/gossip/codec.js'
import { ACCEPT, ignore, reject, MAX_CLOCK_SKEW_MS, type GossipAction, type GossipMessage, type TopicSpec } from './topic.js'
import type { Logger } from '../../log.js'
import type { NodeMetrics } from '../../metrics/registry.js'
import type { PeerId, PrivateKey, Startable } from '@libp2p/interface'

export interface GossipServiceComponents {
  pubsub: GossipSub
  privateKey: PrivateKey
  peerId: PeerId
  metrics: NodeMetrics
  logger: Logger
}

export interface GossipServiceInit {
  /** The role this node signs its messages as. */
  role: NodeRole
  /** Optional check that `signer` really holds `role` (the ledger's registry); undefined = unknown, allowed. */
  roleOracle?: (signer: PeerId, role: NodeRole) => boolean | undefined
  now?: () => number
}

type Handler<T> = (msg: GossipMessage<T>) => void | Promise<void>

interface Registration {
  spec: TopicSpec<unknown>
  handlers: Array<Handler<unknown>>
}

export class GossipService implements Startable {
  private readonly components: GossipServiceComponents
  private readonly init: GossipServiceInit
  private readonly topics = new Map<string, Registration>()
  /** Decoded messages from validation, so a delivered message is decoded once. */
  private readonly validated = new WeakMap<Message, GossipMessage<unknown>>()
  private started = false

  constructor (components: GossipServiceComponents, init: GossipServiceInit) {
    this.components = components
    this.init = init
    this.onMessage = this.onMessage.bind(this)
  }

  /** Declares a topic this node takes part in; `handler` runs for each valid message from others. */
  register<T>(spec: TopicSpec<T>, handler?: Handler<T>): void {
    let reg = this.topics.get(spec.topic)
    if (reg == null) {
      reg = { spec: spec as TopicSpec<unknown>, handlers: [] }
      this.topics.set(spec.topic, reg)
      if (this.started) this.subscribe(reg)
    }
    if (handler != null) reg.handlers.push(handler as Handler<unknown>)
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.components.pubsub.addEventListener('gossipsub:message', this.onMessage)
    for (const reg of this.topics.values()) this.subscribe(reg)
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.components.pubsub.removeEventListener('gossipsub:message', this.onMessage)
    for (const topic of this.topics.keys()) {
      this.components.pubsub.topicValidators.delete(topic)
      this.components.pubsub.unsubscribe(topic)
    }
  }

  /** Seals (signs) and publishes; returns how many peers it was sent to. */
  async publish<T>(spec: TopicSpec<T>, value: T): Promise<number> {
    const { pubsub, privateKey, peerId, metrics } = this.components
    const payload = spec.codec.encode(value)
    const data = await sealEnvelope(privateKey, peerId, spec.topic, this.init.role, payload, this.now())
    if (data.byteLength > spec.maxBytes) throw new RangeError(`${spec.topic}: message of ${data.byteLength} bytes exceeds the topic's ${spec.maxBytes}`)
    try {
      const result = await pubsub.publish(spec.topic, data)
      metrics.gossipPublished.inc({ topic: spec.topic })
      return result.recipients.length
    } catch (err) {
      metrics.gossipPublishErrors.inc({ topic: spec.topic })
      throw err
    }
  }

  /** Peers subscribed to `topic` that this node is connected to. */
  subscribers (topic: string): PeerId[] {
    return this.components.pubsub.getSubscribers(topic)
  }

  private now (): number {
    return this.init.now?.() ?? Date.now()
  }

  private subscribe (reg: Registration): void {
    const validator: TopicValidatorFn = async (_from, msg) => await this.validate(reg.spec, msg)
    this.components.pubsub.topicValidators.set(reg.spec.topic, validator)
    this.components.pubsub.subscribe(reg.spec.topic)
  }

  private async validate (spec: TopicSpec<unknown>, msg: Message): Promise<TopicValidatorResult> {
    const { metrics, logger } = this.components
    let verdict: GossipAction
    try {
      verdict = await this.check(spec, msg)
    } catch (err) {
      // A validator bug must not take the node down, nor let the message through.
      logger.warn({ topic: spec.topic, err }, 'gossip validator threw')
      verdict = ignore('validator-error')
    }
    switch (verdict.action) {
      case 'accept':
        metrics.gossipReceived.inc({ topic: spec.topic })
        return TopicValidatorResult.Accept
      case 'ignore':
        metrics.gossipIgnored.inc({ topic: spec.topic, reason: verdict.reason })
        logger.debug({ topic: spec.topic, reason: verdict.reason }, 'gossip message ignored')
        return TopicValidatorResult.Ignore
      case 'reject':
        metrics.gossipRejected.inc({ topic: spec.topic, reason: verdict.reason })
        logger.info({ topic: spec.topic, reason: verdict.reason }, 'gossip message rejected')
        return TopicValidatorResult.Reject
    }
  }

  private async check (spec: TopicSpec<unknown>, msg: Message): Promise<GossipAction> {
    if (msg.data.byteLength > spec.maxBytes) return reject('too-large')
    const opened = await openEnvelope(spec.topic, msg.data)
    if (!opened.ok) return reject(opened.reason)
    const { envelope, signer } = opened
    if (!spec.roles.includes(envelope.role)) return reject('out-of-role')
    if (this.init.roleOracle?.(signer, envelope.role) === false) return reject('role-not-registered')
    const timestamp = Number(envelope.timestamp)
    const now = this.now()
    if (timestamp > now + MAX_CLOCK_SKEW_MS) return ignore('future')
    if (timestamp < now - spec.maxAgeMs) return ignore('stale')
    let value: unknown
    try {
      value = spec.codec.decode(envelope.payload)
    } catch {
      return reject('malformed-payload')
    }
    const ctx = { signer, role: envelope.role, timestamp, payload: envelope.payload }
    const action = spec.validate != null ? await spec.validate(value, ctx) : ACCEPT
    if (action.action === 'accept') this.validated.set(msg, { topic: spec.topic, value, ...ctx })
    return action
  }

  private onMessage (evt: CustomEvent<GossipsubMessage>): void {
    const { msg } = evt.detail
    const reg = this.topics.get(msg.topic)
    if (reg == null) return
    const decoded = this.validated.get(msg)
    if (decoded == null) return // not validated by us (cannot happen while our validator is installed)
    this.validated.delete(msg)
    for (const handler of reg.handlers) {
      Promise.resolve(handler(decoded)).catch(err => { this.components.logger.warn({ topic: msg.topic, err }, 'gossip handler failed') })
    }
  }
}

export { NodeRole }
