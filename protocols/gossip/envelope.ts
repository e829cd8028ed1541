import { decodeMessage, encodeMessage, enumeration, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SignedEnvelope {
  signer: Uint8Array<ArrayBuffer>
  role: NodeRole
  timestamp: bigint
  payload: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace SignedEnvelope {
  let _codec: Codec<SignedEnvelope>

  export const codec = (): Codec<SignedEnvelope> => {
    if (_codec == null) {
      _codec = message<SignedEnvelope>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.signer != null && obj.signer.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.signer)
        }

        if (obj.role != null && __NodeRoleValues[obj.role] !== 0) {
          w.uint32(16)
          NodeRole.codec().encode(obj.role, w)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(24)
          w.uint64(obj.timestamp)
        }

        if ((obj.payload != null && obj.payload.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.payload)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          signer: uint8ArrayAlloc(0),
          role: NodeRole.ROLE_UNSPECIFIED,
          timestamp: 0n,
          payload: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.signer = reader.bytes()
              break
            }
            case 2: {
              obj.role = NodeRole.codec().decode(reader)
              break
            }
            case 3: {
              obj.timestamp = reader.uint64()
              break
            }
            case 4: {
              obj.payload = reader.bytes()
              break
            }
            case 5: {
              obj.signature = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.signer`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.role`,
                value: NodeRole.codec().decode(reader)
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.payload`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SignedEnvelopeSignerFieldEvent {
    field: '$.signer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedEnvelopeRoleFieldEvent {
    field: '$.role'
    value: NodeRole
  }

  export interface SignedEnvelopeTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface SignedEnvelopePayloadFieldEvent {
    field: '$.payload'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedEnvelopeSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SignedEnvelope>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedEnvelope.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedEnvelope>): SignedEnvelope {
    return decodeMessage(buf, SignedEnvelope.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedEnvelope>): Generator<SignedEnvelopeSignerFieldEvent | SignedEnvelopeRoleFieldEvent | SignedEnvelopeTimestampFieldEvent | SignedEnvelopePayloadFieldEvent | SignedEnvelopeSignatureFieldEvent> {
    return streamMessage(buf, SignedEnvelope.codec(), opts)
  }
}

export enum NodeRole {
  ROLE_UNSPECIFIED = 'ROLE_UNSPECIFIED',
  PROVIDER = 'PROVIDER',
  CHECKER = 'CHECKER',
  GATEWAY = 'GATEWAY',
  USER = 'USER'
}

enum __NodeRoleValues {
  ROLE_UNSPECIFIED = 0,
  PROVIDER = 1,
  CHECKER = 2,
  GATEWAY = 3,
  USER = 4
}

export namespace NodeRole {
  export const codec = (): Codec<NodeRole> => {
    return enumeration<NodeRole>(__NodeRoleValues)
  }
}
