import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Heartbeat {
  uptimeS: bigint
  intervalMs: number
  freeCpus: number
  freeMemoryBytes: bigint
  freeGpus: number
  runningLeases: number
  recordVersion: bigint
  sequence: bigint
  addresses: Uint8Array<ArrayBuffer>[]
}

export namespace Heartbeat {
  let _codec: Codec<Heartbeat>

  export const codec = (): Codec<Heartbeat> => {
    if (_codec == null) {
      _codec = message<Heartbeat>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.uptimeS != null && obj.uptimeS !== 0n)) {
          w.uint32(8)
          w.uint64(obj.uptimeS)
        }

        if ((obj.intervalMs != null && obj.intervalMs !== 0)) {
          w.uint32(16)
          w.uint32(obj.intervalMs)
        }

        if ((obj.freeCpus != null && obj.freeCpus !== 0)) {
          w.uint32(24)
          w.uint32(obj.freeCpus)
        }

        if ((obj.freeMemoryBytes != null && obj.freeMemoryBytes !== 0n)) {
          w.uint32(32)
          w.uint64(obj.freeMemoryBytes)
        }

        if ((obj.freeGpus != null && obj.freeGpus !== 0)) {
          w.uint32(40)
          w.uint32(obj.freeGpus)
        }

        if ((obj.runningLeases != null && obj.runningLeases !== 0)) {
          w.uint32(48)
          w.uint32(obj.runningLeases)
        }

        if ((obj.recordVersion != null && obj.recordVersion !== 0n)) {
          w.uint32(56)
          w.uint64(obj.recordVersion)
        }

        if ((obj.sequence != null && obj.sequence !== 0n)) {
          w.uint32(64)
          w.uint64(obj.sequence)
        }

        if (obj.addresses != null && obj.addresses.length > 0) {
          for (const value of obj.addresses) {
            w.uint32(74)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          uptimeS: 0n,
          intervalMs: 0,
          freeCpus: 0,
          freeMemoryBytes: 0n,
          freeGpus: 0,
          runningLeases: 0,
          recordVersion: 0n,
          sequence: 0n,
          addresses: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.uptimeS = reader.uint64()
              break
            }
            case 2: {
              obj.intervalMs = reader.uint32()
              break
            }
            case 3: {
              obj.freeCpus = reader.uint32()
              break
            }
            case 4: {
              obj.freeMemoryBytes = reader.uint64()
              break
            }
            case 5: {
              obj.freeGpus = reader.uint32()
              break
            }
            case 6: {
              obj.runningLeases = reader.uint32()
              break
            }
            case 7: {
              obj.recordVersion = reader.uint64()
              break
            }
            case 8: {
              obj.sequence = reader.uint64()
              break
            }
            case 9: {
              if (opts.limits?.addresses != null && obj.addresses.length === opts.limits.addresses) {
                throw new MaxLengthError('Decode error - repeated field "addresses" had too many elements')
              }

              obj.addresses.push(reader.bytes())
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
        const obj = {
          addresses: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.uptimeS`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.intervalMs`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.freeCpus`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.freeMemoryBytes`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.freeGpus`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.runningLeases`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.recordVersion`,
                value: reader.uint64()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.sequence`,
                value: reader.uint64()
              }
              break
            }
            case 9: {
              if (opts.limits?.addresses != null && obj.addresses === opts.limits.addresses) {
                throw new MaxLengthError('Streaming decode error - repeated field "addresses" had too many elements')
              }

              yield {
                field: `${prefix}.addresses[]`,
                index: obj.addresses,
                value: reader.bytes()
              }

              obj.addresses++

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

  export interface HeartbeatUptimeSFieldEvent {
    field: '$.uptimeS'
    value: bigint
  }

  export interface HeartbeatIntervalMsFieldEvent {
    field: '$.intervalMs'
    value: number
  }

  export interface HeartbeatFreeCpusFieldEvent {
    field: '$.freeCpus'
    value: number
  }

  export interface HeartbeatFreeMemoryBytesFieldEvent {
    field: '$.freeMemoryBytes'
    value: bigint
  }

  export interface HeartbeatFreeGpusFieldEvent {
    field: '$.freeGpus'
    value: number
  }

  export interface HeartbeatRunningLeasesFieldEvent {
    field: '$.runningLeases'
    value: number
  }

  export interface HeartbeatRecordVersionFieldEvent {
    field: '$.recordVersion'
    value: bigint
  }

  export interface HeartbeatSequenceFieldEvent {
    field: '$.sequence'
    value: bigint
  }

  export interface HeartbeatAddressesFieldEvent {
    field: '$.addresses[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Heartbeat>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Heartbeat.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat>): Heartbeat {
    return decodeMessage(buf, Heartbeat.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat>): Generator<HeartbeatUptimeSFieldEvent | HeartbeatIntervalMsFieldEvent | HeartbeatFreeCpusFieldEvent | HeartbeatFreeMemoryBytesFieldEvent | HeartbeatFreeGpusFieldEvent | HeartbeatRunningLeasesFieldEvent | HeartbeatRecordVersionFieldEvent | HeartbeatSequenceFieldEvent | HeartbeatAddressesFieldEvent> {
    return streamMessage(buf, Heartbeat.codec(), opts)
  }
}
