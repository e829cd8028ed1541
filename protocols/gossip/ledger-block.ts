import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface BlockAnnouncement {
  height: bigint
  hash: Uint8Array<ArrayBuffer>
  timestamp: bigint
  txCount: number
}

export namespace BlockAnnouncement {
  let _codec: Codec<BlockAnnouncement>

  export const codec = (): Codec<BlockAnnouncement> => {
    if (_codec == null) {
      _codec = message<BlockAnnouncement>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.height != null && obj.height !== 0n)) {
          w.uint32(8)
          w.uint64(obj.height)
        }

        if ((obj.hash != null && obj.hash.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.hash)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(24)
          w.uint64(obj.timestamp)
        }

        if ((obj.txCount != null && obj.txCount !== 0)) {
          w.uint32(32)
          w.uint32(obj.txCount)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          height: 0n,
          hash: uint8ArrayAlloc(0),
          timestamp: 0n,
          txCount: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.height = reader.uint64()
              break
            }
            case 2: {
              obj.hash = reader.bytes()
              break
            }
            case 3: {
              obj.timestamp = reader.uint64()
              break
            }
            case 4: {
              obj.txCount = reader.uint32()
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
                field: `${prefix}.height`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.hash`,
                value: reader.bytes()
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
                field: `${prefix}.txCount`,
                value: reader.uint32()
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

  export interface BlockAnnouncementHeightFieldEvent {
    field: '$.height'
    value: bigint
  }

  export interface BlockAnnouncementHashFieldEvent {
    field: '$.hash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BlockAnnouncementTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface BlockAnnouncementTxCountFieldEvent {
    field: '$.txCount'
    value: number
  }

  export function encode (obj: Partial<BlockAnnouncement>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, BlockAnnouncement.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BlockAnnouncement>): BlockAnnouncement {
    return decodeMessage(buf, BlockAnnouncement.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BlockAnnouncement>): Generator<BlockAnnouncementHeightFieldEvent | BlockAnnouncementHashFieldEvent | BlockAnnouncementTimestampFieldEvent | BlockAnnouncementTxCountFieldEvent> {
    return streamMessage(buf, BlockAnnouncement.codec(), opts)
  }
}
