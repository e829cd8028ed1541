import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface ProviderRecord {
  wallet: string
  region: string
  softwareVersion: string
  addresses: string[]
  inventoryJson: string
  benchmarkJson: string
  pricesJson: string
}

export namespace ProviderRecord {
  let _codec: Codec<ProviderRecord>

  export const codec = (): Codec<ProviderRecord> => {
    if (_codec == null) {
      _codec = message<ProviderRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.wallet != null && obj.wallet !== '')) {
          w.uint32(10)
          w.string(obj.wallet)
        }

        if ((obj.region != null && obj.region !== '')) {
          w.uint32(18)
          w.string(obj.region)
        }

        if ((obj.softwareVersion != null && obj.softwareVersion !== '')) {
          w.uint32(26)
          w.string(obj.softwareVersion)
        }

        if (obj.addresses != null && obj.addresses.length > 0) {
          for (const value of obj.addresses) {
            w.uint32(34)
            w.string(value)
          }
        }

        if ((obj.inventoryJson != null && obj.inventoryJson !== '')) {
          w.uint32(42)
          w.string(obj.inventoryJson)
        }

        if ((obj.benchmarkJson != null && obj.benchmarkJson !== '')) {
          w.uint32(50)
          w.string(obj.benchmarkJson)
        }

        if ((obj.pricesJson != null && obj.pricesJson !== '')) {
          w.uint32(58)
          w.string(obj.pricesJson)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          wallet: '',
          region: '',
          softwareVersion: '',
          addresses: [],
          inventoryJson: '',
          benchmarkJson: '',
          pricesJson: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.wallet = reader.string()
              break
            }
            case 2: {
              obj.region = reader.string()
              break
            }
            case 3: {
              obj.softwareVersion = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.addresses != null && obj.addresses.length === opts.limits.addresses) {
                throw new MaxLengthError('Decode error - repeated field "addresses" had too many elements')
              }

              obj.addresses.push(reader.string())
              break
            }
            case 5: {
              obj.inventoryJson = reader.string()
              break
            }
            case 6: {
              obj.benchmarkJson = reader.string()
              break
            }
            case 7: {
              obj.pricesJson = reader.string()
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
                field: `${prefix}.wallet`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.region`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.softwareVersion`,
                value: reader.string()
              }
              break
            }
            case 4: {
              if (opts.limits?.addresses != null && obj.addresses === opts.limits.addresses) {
                throw new MaxLengthError('Streaming decode error - repeated field "addresses" had too many elements')
              }

              yield {
                field: `${prefix}.addresses[]`,
                index: obj.addresses,
                value: reader.string()
              }

              obj.addresses++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.inventoryJson`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.benchmarkJson`,
                value: reader.string()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.pricesJson`,
                value: reader.string()
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

  export interface ProviderRecordWalletFieldEvent {
    field: '$.wallet'
    value: string
  }

  export interface ProviderRecordRegionFieldEvent {
    field: '$.region'
    value: string
  }

  export interface ProviderRecordSoftwareVersionFieldEvent {
    field: '$.softwareVersion'
    value: string
  }

  export interface ProviderRecordAddressesFieldEvent {
    field: '$.addresses[]'
    index: number
    value: string
  }

  export interface ProviderRecordInventoryJsonFieldEvent {
    field: '$.inventoryJson'
    value: string
  }

  export interface ProviderRecordBenchmarkJsonFieldEvent {
    field: '$.benchmarkJson'
    value: string
  }

  export interface ProviderRecordPricesJsonFieldEvent {
    field: '$.pricesJson'
    value: string
  }

  export function encode (obj: Partial<ProviderRecord>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ProviderRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ProviderRecord>): ProviderRecord {
    return decodeMessage(buf, ProviderRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ProviderRecord>): Generator<ProviderRecordWalletFieldEvent | ProviderRecordRegionFieldEvent | ProviderRecordSoftwareVersionFieldEvent | ProviderRecordAddressesFieldEvent | ProviderRecordInventoryJsonFieldEvent | ProviderRecordBenchmarkJsonFieldEvent | ProviderRecordPricesJsonFieldEvent> {
    return streamMessage(buf, ProviderRecord.codec(), opts)
  }
}
