import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export enum VerdictResult {
  RESULT_UNSPECIFIED = 'RESULT_UNSPECIFIED',
  PASS = 'PASS',
  FAIL = 'FAIL'
}

enum __VerdictResultValues {
  RESULT_UNSPECIFIED = 0,
  PASS = 1,
  FAIL = 2
}

export namespace VerdictResult {
  export const codec = (): Codec<VerdictResult> => {
    return enumeration<VerdictResult>(__VerdictResultValues)
  }
}

export interface Verdict {
  epoch: bigint
  provider: Uint8Array<ArrayBuffer>
  checker: Uint8Array<ArrayBuffer>
  result: VerdictResult
  reasons: string[]
  rttMs: number
  bandwidthMbps: number
  challengeN: number
  challengeMs: number
  deadlineMs: number
  claimedClass: string
  leasesChecked: number
  leasesOk: number
  signature: Uint8Array<ArrayBuffer>
}

export namespace Verdict {
  let _codec: Codec<Verdict>

  export const codec = (): Codec<Verdict> => {
    if (_codec == null) {
      _codec = message<Verdict>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.epoch != null && obj.epoch !== 0n)) {
          w.uint32(8)
          w.uint64(obj.epoch)
        }

        if ((obj.provider != null && obj.provider.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.provider)
        }

        if ((obj.checker != null && obj.checker.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.checker)
        }

        if (obj.result != null && __VerdictResultValues[obj.result] !== 0) {
          w.uint32(32)
          VerdictResult.codec().encode(obj.result, w)
        }

        if (obj.reasons != null && obj.reasons.length > 0) {
          for (const value of obj.reasons) {
            w.uint32(42)
            w.string(value)
          }
        }

        if ((obj.rttMs != null && obj.rttMs !== 0)) {
          w.uint32(48)
          w.uint32(obj.rttMs)
        }

        if ((obj.bandwidthMbps != null && obj.bandwidthMbps !== 0)) {
          w.uint32(56)
          w.uint32(obj.bandwidthMbps)
        }

        if ((obj.challengeN != null && obj.challengeN !== 0)) {
          w.uint32(64)
          w.uint32(obj.challengeN)
        }

        if ((obj.challengeMs != null && obj.challengeMs !== 0)) {
          w.uint32(72)
          w.uint32(obj.challengeMs)
        }

        if ((obj.deadlineMs != null && obj.deadlineMs !== 0)) {
          w.uint32(80)
          w.uint32(obj.deadlineMs)
        }

        if ((obj.claimedClass != null && obj.claimedClass !== '')) {
          w.uint32(90)
          w.string(obj.claimedClass)
        }

        if ((obj.leasesChecked != null && obj.leasesChecked !== 0)) {
          w.uint32(96)
          w.uint32(obj.leasesChecked)
        }

        if ((obj.leasesOk != null && obj.leasesOk !== 0)) {
          w.uint32(104)
          w.uint32(obj.leasesOk)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(122)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          epoch: 0n,
          provider: uint8ArrayAlloc(0),
          checker: uint8ArrayAlloc(0),
          result: VerdictResult.RESULT_UNSPECIFIED,
          reasons: [],
          rttMs: 0,
          bandwidthMbps: 0,
          challengeN: 0,
          challengeMs: 0,
          deadlineMs: 0,
          claimedClass: '',
          leasesChecked: 0,
          leasesOk: 0,
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.epoch = reader.uint64()
              break
            }
            case 2: {
              obj.provider = reader.bytes()
              break
            }
            case 3: {
              obj.checker = reader.bytes()
              break
            }
            case 4: {
              obj.result = VerdictResult.codec().decode(reader)
              break
            }
            case 5: {
              if (opts.limits?.reasons != null && obj.reasons.length === opts.limits.reasons) {
                throw new MaxLengthError('Decode error - repeated field "reasons" had too many elements')
              }

              obj.reasons.push(reader.string())
              break
            }
            case 6: {
              obj.rttMs = reader.uint32()
              break
            }
            case 7: {
              obj.bandwidthMbps = reader.uint32()
              break
            }
            case 8: {
              obj.challengeN = reader.uint32()
              break
            }
            case 9: {
              obj.challengeMs = reader.uint32()
              break
            }
            case 10: {
              obj.deadlineMs = reader.uint32()
              break
            }
            case 11: {
              obj.claimedClass = reader.string()
              break
            }
            case 12: {
              obj.leasesChecked = reader.uint32()
              break
            }
            case 13: {
              obj.leasesOk = reader.uint32()
              break
            }
            case 15: {
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
        const obj = {
          reasons: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.epoch`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.provider`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.checker`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.result`,
                value: VerdictResult.codec().decode(reader)
              }
              break
            }
            case 5: {
              if (opts.limits?.reasons != null && obj.reasons === opts.limits.reasons) {
                throw new MaxLengthError('Streaming decode error - repeated field "reasons" had too many elements')
              }

              yield {
                field: `${prefix}.reasons[]`,
                index: obj.reasons,
                value: reader.string()
              }

              obj.reasons++

              break
            }
            case 6: {
              yield {
                field: `${prefix}.rttMs`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.bandwidthMbps`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.challengeN`,
                value: reader.uint32()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.challengeMs`,
                value: reader.uint32()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.deadlineMs`,
                value: reader.uint32()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.claimedClass`,
                value: reader.string()
              }
              break
            }
            case 12: {
              yield {
                field: `${prefix}.leasesChecked`,
                value: reader.uint32()
              }
              break
            }
            case 13: {
              yield {
                field: `${prefix}.leasesOk`,
                value: reader.uint32()
              }
              break
            }
            case 15: {
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

  export interface VerdictEpochFieldEvent {
    field: '$.epoch'
    value: bigint
  }

  export interface VerdictProviderFieldEvent {
    field: '$.provider'
    value: Uint8Array<ArrayBuffer>
  }

  export interface VerdictCheckerFieldEvent {
    field: '$.checker'
    value: Uint8Array<ArrayBuffer>
  }

  export interface VerdictResultFieldEvent {
    field: '$.result'
    value: VerdictResult
  }

  export interface VerdictReasonsFieldEvent {
    field: '$.reasons[]'
    index: number
    value: string
  }

  export interface VerdictRttMsFieldEvent {
    field: '$.rttMs'
    value: number
  }

  export interface VerdictBandwidthMbpsFieldEvent {
    field: '$.bandwidthMbps'
    value: number
  }

  export interface VerdictChallengeNFieldEvent {
    field: '$.challengeN'
    value: number
  }

  export interface VerdictChallengeMsFieldEvent {
    field: '$.challengeMs'
    value: number
  }

  export interface VerdictDeadlineMsFieldEvent {
    field: '$.deadlineMs'
    value: number
  }

  export interface VerdictClaimedClassFieldEvent {
    field: '$.claimedClass'
    value: string
  }

  export interface VerdictLeasesCheckedFieldEvent {
    field: '$.leasesChecked'
    value: number
  }

  export interface VerdictLeasesOkFieldEvent {
    field: '$.leasesOk'
    value: number
  }

  export interface VerdictSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Verdict>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Verdict.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Verdict>): Verdict {
    return decodeMessage(buf, Verdict.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Verdict>): Generator<VerdictEpochFieldEvent | VerdictProviderFieldEvent | VerdictCheckerFieldEvent | VerdictResultFieldEvent | VerdictReasonsFieldEvent | VerdictRttMsFieldEvent | VerdictBandwidthMbpsFieldEvent | VerdictChallengeNFieldEvent | VerdictChallengeMsFieldEvent | VerdictDeadlineMsFieldEvent | VerdictClaimedClassFieldEvent | VerdictLeasesCheckedFieldEvent | VerdictLeasesOkFieldEvent | VerdictSignatureFieldEvent> {
    return streamMessage(buf, Verdict.codec(), opts)
  }
}

export interface CommitEntry {
  provider: Uint8Array<ArrayBuffer>
  commitment: Uint8Array<ArrayBuffer>
}

export namespace CommitEntry {
  let _codec: Codec<CommitEntry>

  export const codec = (): Codec<CommitEntry> => {
    if (_codec == null) {
      _codec = message<CommitEntry>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.provider != null && obj.provider.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.provider)
        }

        if ((obj.commitment != null && obj.commitment.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.commitment)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          provider: uint8ArrayAlloc(0),
          commitment: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.provider = reader.bytes()
              break
            }
            case 2: {
              obj.commitment = reader.bytes()
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
                field: `${prefix}.provider`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.commitment`,
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

  export interface CommitEntryProviderFieldEvent {
    field: '$.provider'
    value: Uint8Array<ArrayBuffer>
  }

  export interface CommitEntryCommitmentFieldEvent {
    field: '$.commitment'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<CommitEntry>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, CommitEntry.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CommitEntry>): CommitEntry {
    return decodeMessage(buf, CommitEntry.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CommitEntry>): Generator<CommitEntryProviderFieldEvent | CommitEntryCommitmentFieldEvent> {
    return streamMessage(buf, CommitEntry.codec(), opts)
  }
}

export interface Commit {
  epoch: bigint
  part: number
  entries: CommitEntry[]
}

export namespace Commit {
  let _codec: Codec<Commit>

  export const codec = (): Codec<Commit> => {
    if (_codec == null) {
      _codec = message<Commit>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.epoch != null && obj.epoch !== 0n)) {
          w.uint32(8)
          w.uint64(obj.epoch)
        }

        if ((obj.part != null && obj.part !== 0)) {
          w.uint32(16)
          w.uint32(obj.part)
        }

        if (obj.entries != null && obj.entries.length > 0) {
          for (const value of obj.entries) {
            w.uint32(26)
            CommitEntry.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          epoch: 0n,
          part: 0,
          entries: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.epoch = reader.uint64()
              break
            }
            case 2: {
              obj.part = reader.uint32()
              break
            }
            case 3: {
              if (opts.limits?.entries != null && obj.entries.length === opts.limits.entries) {
                throw new MaxLengthError('Decode error - repeated field "entries" had too many elements')
              }

              obj.entries.push(CommitEntry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.entries$
              }))
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
          entries: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.epoch`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.part`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              if (opts.limits?.entries != null && obj.entries === opts.limits.entries) {
                throw new MaxLengthError('Streaming decode error - repeated field "entries" had too many elements')
              }

              for (const evt of CommitEntry.codec().stream(reader, reader.uint32(), `${prefix}.entries[]`, {
                limits: opts.limits?.entries$
              })) {
                yield {
                  ...evt,
                  index: obj.entries
                }
              }

              obj.entries++

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

  export interface CommitEpochFieldEvent {
    field: '$.epoch'
    value: bigint
  }

  export interface CommitPartFieldEvent {
    field: '$.part'
    value: number
  }

  export interface CommitEntriesProviderFieldEvent {
    field: '$.entries[].provider'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface CommitEntriesCommitmentFieldEvent {
    field: '$.entries[].commitment'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<Commit>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Commit.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Commit>): Commit {
    return decodeMessage(buf, Commit.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Commit>): Generator<CommitEpochFieldEvent | CommitPartFieldEvent | CommitEntriesProviderFieldEvent | CommitEntriesCommitmentFieldEvent> {
    return streamMessage(buf, Commit.codec(), opts)
  }
}

export interface RevealEntry {
  verdict?: Verdict
  salt: Uint8Array<ArrayBuffer>
}

export namespace RevealEntry {
  let _codec: Codec<RevealEntry>

  export const codec = (): Codec<RevealEntry> => {
    if (_codec == null) {
      _codec = message<RevealEntry>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.verdict != null) {
          w.uint32(10)
          Verdict.codec().encode(obj.verdict, w)
        }

        if ((obj.salt != null && obj.salt.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.salt)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          salt: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.verdict = Verdict.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.verdict
              })
              break
            }
            case 2: {
              obj.salt = reader.bytes()
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
              yield * Verdict.codec().stream(reader, reader.uint32(), `${prefix}.verdict`, {
                limits: opts.limits?.verdict
              })

              break
            }
            case 2: {
              yield {
                field: `${prefix}.salt`,
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

  export interface RevealEntryVerdictEpochFieldEvent {
    field: '$.verdict.epoch'
    value: bigint
  }

  export interface RevealEntryVerdictProviderFieldEvent {
    field: '$.verdict.provider'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RevealEntryVerdictCheckerFieldEvent {
    field: '$.verdict.checker'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RevealEntryVerdictResultFieldEvent {
    field: '$.verdict.result'
    value: VerdictResult
  }

  export interface RevealEntryVerdictReasonsFieldEvent {
    field: '$.verdict.reasons[]'
    index: number
    value: string
  }

  export interface RevealEntryVerdictRttMsFieldEvent {
    field: '$.verdict.rttMs'
    value: number
  }

  export interface RevealEntryVerdictBandwidthMbpsFieldEvent {
    field: '$.verdict.bandwidthMbps'
    value: number
  }

  export interface RevealEntryVerdictChallengeNFieldEvent {
    field: '$.verdict.challengeN'
    value: number
  }

  export interface RevealEntryVerdictChallengeMsFieldEvent {
    field: '$.verdict.challengeMs'
    value: number
  }

  export interface RevealEntryVerdictDeadlineMsFieldEvent {
    field: '$.verdict.deadlineMs'
    value: number
  }

  export interface RevealEntryVerdictClaimedClassFieldEvent {
    field: '$.verdict.claimedClass'
    value: string
  }

  export interface RevealEntryVerdictLeasesCheckedFieldEvent {
    field: '$.verdict.leasesChecked'
    value: number
  }

  export interface RevealEntryVerdictLeasesOkFieldEvent {
    field: '$.verdict.leasesOk'
    value: number
  }

  export interface RevealEntryVerdictSignatureFieldEvent {
    field: '$.verdict.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RevealEntrySaltFieldEvent {
    field: '$.salt'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<RevealEntry>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RevealEntry.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RevealEntry>): RevealEntry {
    return decodeMessage(buf, RevealEntry.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RevealEntry>): Generator<RevealEntryVerdictEpochFieldEvent | RevealEntryVerdictProviderFieldEvent | RevealEntryVerdictCheckerFieldEvent | RevealEntryVerdictResultFieldEvent | RevealEntryVerdictReasonsFieldEvent | RevealEntryVerdictRttMsFieldEvent | RevealEntryVerdictBandwidthMbpsFieldEvent | RevealEntryVerdictChallengeNFieldEvent | RevealEntryVerdictChallengeMsFieldEvent | RevealEntryVerdictDeadlineMsFieldEvent | RevealEntryVerdictClaimedClassFieldEvent | RevealEntryVerdictLeasesCheckedFieldEvent | RevealEntryVerdictLeasesOkFieldEvent | RevealEntryVerdictSignatureFieldEvent | RevealEntrySaltFieldEvent> {
    return streamMessage(buf, RevealEntry.codec(), opts)
  }
}

export interface Reveal {
  epoch: bigint
  part: number
  entries: RevealEntry[]
}

export namespace Reveal {
  let _codec: Codec<Reveal>

  export const codec = (): Codec<Reveal> => {
    if (_codec == null) {
      _codec = message<Reveal>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.epoch != null && obj.epoch !== 0n)) {
          w.uint32(8)
          w.uint64(obj.epoch)
        }

        if ((obj.part != null && obj.part !== 0)) {
          w.uint32(16)
          w.uint32(obj.part)
        }

        if (obj.entries != null && obj.entries.length > 0) {
          for (const value of obj.entries) {
            w.uint32(26)
            RevealEntry.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          epoch: 0n,
          part: 0,
          entries: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.epoch = reader.uint64()
              break
            }
            case 2: {
              obj.part = reader.uint32()
              break
            }
            case 3: {
              if (opts.limits?.entries != null && obj.entries.length === opts.limits.entries) {
                throw new MaxLengthError('Decode error - repeated field "entries" had too many elements')
              }

              obj.entries.push(RevealEntry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.entries$
              }))
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
          entries: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.epoch`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.part`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              if (opts.limits?.entries != null && obj.entries === opts.limits.entries) {
                throw new MaxLengthError('Streaming decode error - repeated field "entries" had too many elements')
              }

              for (const evt of RevealEntry.codec().stream(reader, reader.uint32(), `${prefix}.entries[]`, {
                limits: opts.limits?.entries$
              })) {
                yield {
                  ...evt,
                  index: obj.entries
                }
              }

              obj.entries++

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

  export interface RevealEpochFieldEvent {
    field: '$.epoch'
    value: bigint
  }

  export interface RevealPartFieldEvent {
    field: '$.part'
    value: number
  }

  export interface RevealEntriesVerdictEpochFieldEvent {
    field: '$.entries[].verdict.epoch'
    value: bigint
    index: number
  }

  export interface RevealEntriesVerdictProviderFieldEvent {
    field: '$.entries[].verdict.provider'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface RevealEntriesVerdictCheckerFieldEvent {
    field: '$.entries[].verdict.checker'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface RevealEntriesVerdictResultFieldEvent {
    field: '$.entries[].verdict.result'
    value: VerdictResult
    index: number
  }

  export interface RevealEntriesVerdictReasonsFieldEvent {
    field: '$.entries[].verdict.reasons[]'
    index: number
    value: string
  }

  export interface RevealEntriesVerdictRttMsFieldEvent {
    field: '$.entries[].verdict.rttMs'
    value: number
    index: number
  }

  export interface RevealEntriesVerdictBandwidthMbpsFieldEvent {
    field: '$.entries[].verdict.bandwidthMbps'
    value: number
    index: number
  }

  export interface RevealEntriesVerdictChallengeNFieldEvent {
    field: '$.entries[].verdict.challengeN'
    value: number
    index: number
  }

  export interface RevealEntriesVerdictChallengeMsFieldEvent {
    field: '$.entries[].verdict.challengeMs'
    value: number
    index: number
  }

  export interface RevealEntriesVerdictDeadlineMsFieldEvent {
    field: '$.entries[].verdict.deadlineMs'
    value: number
    index: number
  }

  export interface RevealEntriesVerdictClaimedClassFieldEvent {
    field: '$.entries[].verdict.claimedClass'
    value: string
    index: number
  }

  export interface RevealEntriesVerdictLeasesCheckedFieldEvent {
    field: '$.entries[].verdict.leasesChecked'
    value: number
    index: number
  }

  export interface RevealEntriesVerdictLeasesOkFieldEvent {
    field: '$.entries[].verdict.leasesOk'
    value: number
    index: number
  }

  export interface RevealEntriesVerdictSignatureFieldEvent {
    field: '$.entries[].verdict.signature'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface RevealEntriesSaltFieldEvent {
    field: '$.entries[].salt'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<Reveal>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Reveal.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Reveal>): Reveal {
    return decodeMessage(buf, Reveal.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Reveal>): Generator<RevealEpochFieldEvent | RevealPartFieldEvent | RevealEntriesVerdictEpochFieldEvent | RevealEntriesVerdictProviderFieldEvent | RevealEntriesVerdictCheckerFieldEvent | RevealEntriesVerdictResultFieldEvent | RevealEntriesVerdictReasonsFieldEvent | RevealEntriesVerdictRttMsFieldEvent | RevealEntriesVerdictBandwidthMbpsFieldEvent | RevealEntriesVerdictChallengeNFieldEvent | RevealEntriesVerdictChallengeMsFieldEvent | RevealEntriesVerdictDeadlineMsFieldEvent | RevealEntriesVerdictClaimedClassFieldEvent | RevealEntriesVerdictLeasesCheckedFieldEvent | RevealEntriesVerdictLeasesOkFieldEvent | RevealEntriesVerdictSignatureFieldEvent | RevealEntriesSaltFieldEvent> {
    return streamMessage(buf, Reveal.codec(), opts)
  }
}

export interface PopwMessage {
  commit?: Commit
  reveal?: Reveal
}

export namespace PopwMessage {
  let _codec: Codec<PopwMessage>

  export const codec = (): Codec<PopwMessage> => {
    if (_codec == null) {
      _codec = message<PopwMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.commit != null) {
          w.uint32(10)
          Commit.codec().encode(obj.commit, w)
        }

        if (obj.reveal != null) {
          w.uint32(18)
          Reveal.codec().encode(obj.reveal, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.commit = Commit.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.commit
              })
              break
            }
            case 2: {
              obj.reveal = Reveal.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.reveal
              })
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
              yield * Commit.codec().stream(reader, reader.uint32(), `${prefix}.commit`, {
                limits: opts.limits?.commit
              })

              break
            }
            case 2: {
              yield * Reveal.codec().stream(reader, reader.uint32(), `${prefix}.reveal`, {
                limits: opts.limits?.reveal
              })

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

  export interface PopwMessageCommitEpochFieldEvent {
    field: '$.commit.epoch'
    value: bigint
  }

  export interface PopwMessageCommitPartFieldEvent {
    field: '$.commit.part'
    value: number
  }

  export interface PopwMessageCommitEntriesProviderFieldEvent {
    field: '$.commit.entries[].provider'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface PopwMessageCommitEntriesCommitmentFieldEvent {
    field: '$.commit.entries[].commitment'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface PopwMessageRevealEpochFieldEvent {
    field: '$.reveal.epoch'
    value: bigint
  }

  export interface PopwMessageRevealPartFieldEvent {
    field: '$.reveal.part'
    value: number
  }

  export interface PopwMessageRevealEntriesVerdictEpochFieldEvent {
    field: '$.reveal.entries[].verdict.epoch'
    value: bigint
    index: number
  }

  export interface PopwMessageRevealEntriesVerdictProviderFieldEvent {
    field: '$.reveal.entries[].verdict.provider'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface PopwMessageRevealEntriesVerdictCheckerFieldEvent {
    field: '$.reveal.entries[].verdict.checker'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface PopwMessageRevealEntriesVerdictResultFieldEvent {
    field: '$.reveal.entries[].verdict.result'
    value: VerdictResult
    index: number
  }

  export interface PopwMessageRevealEntriesVerdictReasonsFieldEvent {
    field: '$.reveal.entries[].verdict.reasons[]'
    index: number
    value: string
  }

  export interface PopwMessageRevealEntriesVerdictRttMsFieldEvent {
    field: '$.reveal.entries[].verdict.rttMs'
    value: number
    index: number
  }

  export interface PopwMessageRevealEntriesVerdictBandwidthMbpsFieldEvent {
    field: '$.reveal.entries[].verdict.bandwidthMbps'
    value: number
    index: number
  }

  export interface PopwMessageRevealEntriesVerdictChallengeNFieldEvent {
    field: '$.reveal.entries[].verdict.challengeN'
    value: number
    index: number
  }

  export interface PopwMessageRevealEntriesVerdictChallengeMsFieldEvent {
    field: '$.reveal.entries[].verdict.challengeMs'
    value: number
    index: number
  }

  export interface PopwMessageRevealEntriesVerdictDeadlineMsFieldEvent {
    field: '$.reveal.entries[].verdict.deadlineMs'
    value: number
    index: number
  }

  export interface PopwMessageRevealEntriesVerdictClaimedClassFieldEvent {
    field: '$.reveal.entries[].verdict.claimedClass'
    value: string
    index: number
  }

  export interface PopwMessageRevealEntriesVerdictLeasesCheckedFieldEvent {
    field: '$.reveal.entries[].verdict.leasesChecked'
    value: number
    index: number
  }

  export interface PopwMessageRevealEntriesVerdictLeasesOkFieldEvent {
    field: '$.reveal.entries[].verdict.leasesOk'
    value: number
    index: number
  }

  export interface PopwMessageRevealEntriesVerdictSignatureFieldEvent {
    field: '$.reveal.entries[].verdict.signature'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface PopwMessageRevealEntriesSaltFieldEvent {
    field: '$.reveal.entries[].salt'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<PopwMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PopwMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PopwMessage>): PopwMessage {
    return decodeMessage(buf, PopwMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PopwMessage>): Generator<PopwMessageCommitEpochFieldEvent | PopwMessageCommitPartFieldEvent | PopwMessageCommitEntriesProviderFieldEvent | PopwMessageCommitEntriesCommitmentFieldEvent | PopwMessageRevealEpochFieldEvent | PopwMessageRevealPartFieldEvent | PopwMessageRevealEntriesVerdictEpochFieldEvent | PopwMessageRevealEntriesVerdictProviderFieldEvent | PopwMessageRevealEntriesVerdictCheckerFieldEvent | PopwMessageRevealEntriesVerdictResultFieldEvent | PopwMessageRevealEntriesVerdictReasonsFieldEvent | PopwMessageRevealEntriesVerdictRttMsFieldEvent | PopwMessageRevealEntriesVerdictBandwidthMbpsFieldEvent | PopwMessageRevealEntriesVerdictChallengeNFieldEvent | PopwMessageRevealEntriesVerdictChallengeMsFieldEvent | PopwMessageRevealEntriesVerdictDeadlineMsFieldEvent | PopwMessageRevealEntriesVerdictClaimedClassFieldEvent | PopwMessageRevealEntriesVerdictLeasesCheckedFieldEvent | PopwMessageRevealEntriesVerdictLeasesOkFieldEvent | PopwMessageRevealEntriesVerdictSignatureFieldEvent | PopwMessageRevealEntriesSaltFieldEvent> {
    return streamMessage(buf, PopwMessage.codec(), opts)
  }
}

export interface Outcome {
  epoch: bigint
  provider: Uint8Array<ArrayBuffer>
  result: VerdictResult
  assigned: Uint8Array<ArrayBuffer>[]
  verdicts: Verdict[]
}

export namespace Outcome {
  let _codec: Codec<Outcome>

  export const codec = (): Codec<Outcome> => {
    if (_codec == null) {
      _codec = message<Outcome>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.epoch != null && obj.epoch !== 0n)) {
          w.uint32(8)
          w.uint64(obj.epoch)
        }

        if ((obj.provider != null && obj.provider.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.provider)
        }

        if (obj.result != null && __VerdictResultValues[obj.result] !== 0) {
          w.uint32(24)
          VerdictResult.codec().encode(obj.result, w)
        }

        if (obj.assigned != null && obj.assigned.length > 0) {
          for (const value of obj.assigned) {
            w.uint32(34)
            w.bytes(value)
          }
        }

        if (obj.verdicts != null && obj.verdicts.length > 0) {
          for (const value of obj.verdicts) {
            w.uint32(42)
            Verdict.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          epoch: 0n,
          provider: uint8ArrayAlloc(0),
          result: VerdictResult.RESULT_UNSPECIFIED,
          assigned: [],
          verdicts: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.epoch = reader.uint64()
              break
            }
            case 2: {
              obj.provider = reader.bytes()
              break
            }
            case 3: {
              obj.result = VerdictResult.codec().decode(reader)
              break
            }
            case 4: {
              if (opts.limits?.assigned != null && obj.assigned.length === opts.limits.assigned) {
                throw new MaxLengthError('Decode error - repeated field "assigned" had too many elements')
              }

              obj.assigned.push(reader.bytes())
              break
            }
            case 5: {
              if (opts.limits?.verdicts != null && obj.verdicts.length === opts.limits.verdicts) {
                throw new MaxLengthError('Decode error - repeated field "verdicts" had too many elements')
              }

              obj.verdicts.push(Verdict.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.verdicts$
              }))
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
          assigned: 0,
          verdicts: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.epoch`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.provider`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.result`,
                value: VerdictResult.codec().decode(reader)
              }
              break
            }
            case 4: {
              if (opts.limits?.assigned != null && obj.assigned === opts.limits.assigned) {
                throw new MaxLengthError('Streaming decode error - repeated field "assigned" had too many elements')
              }

              yield {
                field: `${prefix}.assigned[]`,
                index: obj.assigned,
                value: reader.bytes()
              }

              obj.assigned++

              break
            }
            case 5: {
              if (opts.limits?.verdicts != null && obj.verdicts === opts.limits.verdicts) {
                throw new MaxLengthError('Streaming decode error - repeated field "verdicts" had too many elements')
              }

              for (const evt of Verdict.codec().stream(reader, reader.uint32(), `${prefix}.verdicts[]`, {
                limits: opts.limits?.verdicts$
              })) {
                yield {
                  ...evt,
                  index: obj.verdicts
                }
              }

              obj.verdicts++

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

  export interface OutcomeEpochFieldEvent {
    field: '$.epoch'
    value: bigint
  }

  export interface OutcomeProviderFieldEvent {
    field: '$.provider'
    value: Uint8Array<ArrayBuffer>
  }

  export interface OutcomeResultFieldEvent {
    field: '$.result'
    value: VerdictResult
  }

  export interface OutcomeAssignedFieldEvent {
    field: '$.assigned[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface OutcomeVerdictsEpochFieldEvent {
    field: '$.verdicts[].epoch'
    value: bigint
    index: number
  }

  export interface OutcomeVerdictsProviderFieldEvent {
    field: '$.verdicts[].provider'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface OutcomeVerdictsCheckerFieldEvent {
    field: '$.verdicts[].checker'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface OutcomeVerdictsResultFieldEvent {
    field: '$.verdicts[].result'
    value: VerdictResult
    index: number
  }

  export interface OutcomeVerdictsReasonsFieldEvent {
    field: '$.verdicts[].reasons[]'
    index: number
    value: string
  }

  export interface OutcomeVerdictsRttMsFieldEvent {
    field: '$.verdicts[].rttMs'
    value: number
    index: number
  }

  export interface OutcomeVerdictsBandwidthMbpsFieldEvent {
    field: '$.verdicts[].bandwidthMbps'
    value: number
    index: number
  }

  export interface OutcomeVerdictsChallengeNFieldEvent {
    field: '$.verdicts[].challengeN'
    value: number
    index: number
  }

  export interface OutcomeVerdictsChallengeMsFieldEvent {
    field: '$.verdicts[].challengeMs'
    value: number
    index: number
  }

  export interface OutcomeVerdictsDeadlineMsFieldEvent {
    field: '$.verdicts[].deadlineMs'
    value: number
    index: number
  }

  export interface OutcomeVerdictsClaimedClassFieldEvent {
    field: '$.verdicts[].claimedClass'
    value: string
    index: number
  }

  export interface OutcomeVerdictsLeasesCheckedFieldEvent {
    field: '$.verdicts[].leasesChecked'
    value: number
    index: number
  }

  export interface OutcomeVerdictsLeasesOkFieldEvent {
    field: '$.verdicts[].leasesOk'
    value: number
    index: number
  }

  export interface OutcomeVerdictsSignatureFieldEvent {
    field: '$.verdicts[].signature'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<Outcome>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Outcome.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Outcome>): Outcome {
    return decodeMessage(buf, Outcome.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Outcome>): Generator<OutcomeEpochFieldEvent | OutcomeProviderFieldEvent | OutcomeResultFieldEvent | OutcomeAssignedFieldEvent | OutcomeVerdictsEpochFieldEvent | OutcomeVerdictsProviderFieldEvent | OutcomeVerdictsCheckerFieldEvent | OutcomeVerdictsResultFieldEvent | OutcomeVerdictsReasonsFieldEvent | OutcomeVerdictsRttMsFieldEvent | OutcomeVerdictsBandwidthMbpsFieldEvent | OutcomeVerdictsChallengeNFieldEvent | OutcomeVerdictsChallengeMsFieldEvent | OutcomeVerdictsDeadlineMsFieldEvent | OutcomeVerdictsClaimedClassFieldEvent | OutcomeVerdictsLeasesCheckedFieldEvent | OutcomeVerdictsLeasesOkFieldEvent | OutcomeVerdictsSignatureFieldEvent> {
    return streamMessage(buf, Outcome.codec(), opts)
  }
}
