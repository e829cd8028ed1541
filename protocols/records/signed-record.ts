import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SignedRecord {
  signer: Uint8Array<ArrayBuffer>
  version: bigint
  timestamp: bigint
  payload: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace SignedRecord {
  let _codec: Codec<SignedRecord>

  export const codec = (): Codec<SignedRecord> => {
    if (_codec == null) {
      _codec = message<SignedRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.signer != null && obj.signer.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.signer)
        }

        if ((obj.version != null && obj.version !== 0n)) {
          w.uint32(16)
          w.uint64(obj.version)
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
          version: 0n,
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
              obj.version = reader.uint64()
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
                field: `${prefix}.version`,
                value: reader.uint64()
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

  export interface SignedRecordSignerFieldEvent {
    field: '$.signer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedRecordVersionFieldEvent {
    field: '$.version'
    value: bigint
  }

  export interface SignedRecordTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface SignedRecordPayloadFieldEvent {
    field: '$.payload'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedRecordSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SignedRecord>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedRecord>): SignedRecord {
    return decodeMessage(buf, SignedRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedRecord>): Generator<SignedRecordSignerFieldEvent | SignedRecordVersionFieldEvent | SignedRecordTimestampFieldEvent | SignedRecordPayloadFieldEvent | SignedRecordSignatureFieldEvent> {
    return streamMessage(buf, SignedRecord.codec(), opts)
  }
}
