import { createHash } from 'node:crypto'
import { DeltaError } from './errors.js'

/**
 * Slipway delta format, versions 1 to 3 (see client-sdk/DELTA-FORMAT.md). Everything is
 * little-endian. A patch is a 128-byte header followed by `opCount` operations, each an
 * 80-byte op header plus `payloadLength` bytes of payload, in target order.
 */
export const MAGIC = Buffer.from('SLPDELTA', 'latin1')
/** the version the builder writes unless asked for 2 */
export const FORMAT_VERSION = 1
/** version 2 adds the MEMBER op: a compressed stream inside the image, diffed inside its compression */
export const FORMAT_VERSION_2 = 2
/**
 * version 3 is version 2 with sparse diff streams (sparse-diff.ts: zero runs are not coded
 * byte by byte) and the TRANSPOSED op (transpose.ts: new bytes stored column by column)
 */
export const FORMAT_VERSION_3 = 3
/** The `format` string of signed delta metadata (signing/metadata/delta.ts) for patches in this format. */
export const FORMAT_NAME = 'slipway-delta-v1'
export const FORMAT_NAME_V2 = 'slipway-delta-v2'
export const FORMAT_NAME_V3 = 'slipway-delta-v3'
export const formatName = (version: number): string => (version === FORMAT_VERSION_3 ? FORMAT_NAME_V3 : version === FORMAT_VERSION_2 ? FORMAT_NAME_V2 : FORMAT_NAME)

/**
 * The poll header in which the agent reports the delta formats its applier takes. A
 * codec-1 MEMBER op is re-encoded with the device's own zlib, which must give the
 * builder's bytes, so version 2 carries the zlib version of this Node; `members` lists the
 * member codecs this applier takes (`deflate`: codec 1, `puff`: codec 2, which needs no
 * zlib match, `spool`: codec 3, puff through a spool file, version 3 only). A device that
 * sends nothing gets version 1.
 */
export const DELTA_FORMATS_HEADER = 'slipway-delta-formats'
export const deltaFormatsHeader = (): string => {
  const members = `zlib=${process.versions.zlib ?? 'none'};members=deflate+puff`
  // codec 3 (spool) only in version 3: the server's v2 offer formats have no name for it
  return `${FORMAT_NAME}, ${FORMAT_NAME_V2};${members}, ${FORMAT_NAME_V3};${members}+spool`
}
export const HEADER_SIZE = 128
export const OP_HEADER_SIZE = 80
/** a control entry is at most three 10-byte varints */
export const MAX_CONTROL_ENTRY = 30
/** bytes at the start of a MEMBER op's payload that say how to decode and re-encode it */
export const MEMBER_DESCRIPTOR_SIZE = 24

export const OpType = { COPY: 1, REPLACE: 2, BSDIFF: 3, MEMBER: 4, TRANSPOSED: 5 } as const
export type OpType = (typeof OpType)[keyof typeof OpType]

export interface DeltaHeader {
  /** 1 (default), 2 or 3: an applier refuses versions it does not know, so patches are only sent to devices that report theirs */
  version?: number
  sourceSize: number
  targetSize: number
  opCount: number
  /** the largest payloadLength of any op: lets the applier refuse before reading any op */
  maxPayload: number
  sourceSha256: Buffer
  targetSha256: Buffer
}

export interface OpHeader {
  type: OpType
  payloadLength: number
  targetOffset: number
  targetLength: number
  /**
   * COPY: where the bytes come from; BSDIFF: start of the source extent the control stream
   * addresses; MEMBER: start of the source's compressed member (its decoded bytes are the extent)
   */
  srcOffset: number
  /** COPY: equals targetLength; BSDIFF: length of that extent; MEMBER: length of that member (0: none); REPLACE: 0 */
  srcLength: number
  /** BSDIFF and MEMBER: compressed lengths of the control and diff streams; extra is the rest */
  ctrlLength: number
  diffLength: number
  /** sha256 of the bytes this op writes to [targetOffset, targetOffset + targetLength) */
  sha256: Buffer
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest()

function u64(buf: Buffer, at: number, field: string): number {
  const v = buf.readBigUInt64LE(at)
  // 2^53 bytes is 8 PiB: anything above is not an image but an attack or corruption
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DeltaError('DELTA_SIZE_LIMIT', `${field} is out of range`, { field, value: v.toString() })
  }
  return Number(v)
}

export function encodeHeader(h: DeltaHeader): Buffer {
  const b = Buffer.alloc(HEADER_SIZE)
  MAGIC.copy(b, 0)
  b.writeUInt16LE(h.version ?? FORMAT_VERSION, 8)
  b.writeUInt16LE(0, 10) // flags: none defined
  b.writeUInt32LE(HEADER_SIZE, 12)
  b.writeBigUInt64LE(BigInt(h.sourceSize), 16)
  b.writeBigUInt64LE(BigInt(h.targetSize), 24)
  b.writeBigUInt64LE(BigInt(h.opCount), 32)
  b.writeUInt32LE(h.maxPayload, 40)
  h.sourceSha256.copy(b, 48)
  h.targetSha256.copy(b, 80)
  // a truncated sha256 of the rest: a flipped size or hash in the header is caught
  // before it can steer anything (the whole patch is also covered by signed metadata)
  sha256(b.subarray(0, 112)).copy(b, 112, 0, 16)
  return b
}

export function decodeHeader(b: Buffer): DeltaHeader {
  if (!b.subarray(0, 8).equals(MAGIC)) throw new DeltaError('DELTA_BAD_MAGIC', 'not a Slipway delta (bad magic)')
  const version = b.readUInt16LE(8)
  if (version !== FORMAT_VERSION && version !== FORMAT_VERSION_2 && version !== FORMAT_VERSION_3) {
    throw new DeltaError('DELTA_UNSUPPORTED', `unsupported delta format version ${version}`, { version })
  }
  if (!sha256(b.subarray(0, 112)).subarray(0, 16).equals(b.subarray(112, 128))) {
    throw new DeltaError('DELTA_CORRUPT', 'delta header checksum mismatch')
  }
  if (b.readUInt16LE(10) !== 0 || b.readUInt32LE(12) !== HEADER_SIZE || b.readUInt32LE(44) !== 0) {
    throw new DeltaError('DELTA_UNSUPPORTED', 'unknown delta header flags or length')
  }
  return {
    version,
    sourceSize: u64(b, 16, 'sourceSize'),
    targetSize: u64(b, 24, 'targetSize'),
    opCount: u64(b, 32, 'opCount'),
    maxPayload: b.readUInt32LE(40),
    sourceSha256: Buffer.from(b.subarray(48, 80)),
    targetSha256: Buffer.from(b.subarray(80, 112)),
  }
}

export function encodeOpHeader(op: OpHeader): Buffer {
  const b = Buffer.alloc(OP_HEADER_SIZE)
  b.writeUInt8(op.type, 0)
  b.writeUInt32LE(op.payloadLength, 4)
  b.writeBigUInt64LE(BigInt(op.targetOffset), 8)
  b.writeBigUInt64LE(BigInt(op.targetLength), 16)
  b.writeBigUInt64LE(BigInt(op.srcOffset), 24)
  b.writeBigUInt64LE(BigInt(op.srcLength), 32)
  b.writeUInt32LE(op.ctrlLength, 40)
  b.writeUInt32LE(op.diffLength, 44)
  op.sha256.copy(b, 48)
  return b
}

/** Decodes and checks everything that can be checked without the payload; MEMBER ops only from version 2, TRANSPOSED from 3. */
export function decodeOpHeader(b: Buffer, version = FORMAT_VERSION): OpHeader {
  const type = b.readUInt8(0)
  const known =
    type === OpType.COPY ||
    type === OpType.REPLACE ||
    type === OpType.BSDIFF ||
    (type === OpType.MEMBER && version >= FORMAT_VERSION_2) ||
    (type === OpType.TRANSPOSED && version >= FORMAT_VERSION_3)
  if (!known) {
    throw new DeltaError('DELTA_UNSUPPORTED', `unknown delta op type ${type}`, { type })
  }
  if (b.readUIntLE(1, 3) !== 0) throw new DeltaError('DELTA_CORRUPT', 'reserved op header bytes are not zero')
  const op: OpHeader = {
    type,
    payloadLength: b.readUInt32LE(4),
    targetOffset: u64(b, 8, 'targetOffset'),
    targetLength: u64(b, 16, 'targetLength'),
    srcOffset: u64(b, 24, 'srcOffset'),
    srcLength: u64(b, 32, 'srcLength'),
    ctrlLength: b.readUInt32LE(40),
    diffLength: b.readUInt32LE(44),
    sha256: Buffer.from(b.subarray(48, 80)),
  }
  const bad = (why: string) => new DeltaError('DELTA_CORRUPT', `invalid op header: ${why}`, { op: { ...op, sha256: undefined } })
  if (op.targetLength === 0) throw bad('empty op')
  if (type === OpType.COPY && (op.payloadLength !== 0 || op.srcLength !== op.targetLength)) throw bad('COPY fields')
  const streams = type === OpType.BSDIFF || type === OpType.MEMBER
  if (!streams && (op.ctrlLength !== 0 || op.diffLength !== 0)) throw bad('stream lengths on an op without streams')
  if (type === OpType.REPLACE && (op.srcOffset !== 0 || op.srcLength !== 0)) throw bad('REPLACE has a source extent')
  if (type === OpType.TRANSPOSED && (op.srcOffset !== 0 || op.srcLength !== 0)) throw bad('TRANSPOSED has a source extent')
  // a MEMBER payload starts with its member descriptor (member.ts), then the three streams
  const before = type === OpType.MEMBER ? MEMBER_DESCRIPTOR_SIZE : 0
  if (streams && before + op.ctrlLength + op.diffLength > op.payloadLength) throw bad('stream lengths exceed payload')
  return op
}

/**
 * Control entries as LEB128 varints (x, y unsigned; z zigzag-signed). Synthesised
 * controls for ext4 images have a hundred thousand entries of small numbers; varints
 * make them several times smaller than bsdiff's fixed 24 bytes before brotli even starts.
 */
export function encodeControl(entries: ReadonlyArray<readonly [number, number, number]>): Buffer {
  const b = Buffer.allocUnsafe(entries.length * MAX_CONTROL_ENTRY)
  let at = 0
  const put = (v: number) => {
    while (v >= 0x80) {
      b[at++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    b[at++] = v
  }
  for (const [x, y, z] of entries) {
    put(x)
    put(y)
    put(z < 0 ? -z * 2 - 1 : z * 2)
  }
  return b.subarray(0, at)
}

/**
 * Decodes one varint at `at`; returns [value, next offset], or null when the buffer
 * ends first. Values above 2^53 are refused as corrupt.
 */
export function readVarint(b: Buffer, at: number, end: number): [number, number] | null {
  let v = 0
  let mul = 1
  for (let i = 0; i < 10; i++) {
    if (at >= end) return null
    const byte = b[at++]!
    v += (byte & 0x7f) * mul
    if (byte < 0x80) {
      if (!Number.isSafeInteger(v)) throw new DeltaError('DELTA_CORRUPT', 'control value out of range')
      return [v, at]
    }
    mul *= 0x80
  }
  throw new DeltaError('DELTA_CORRUPT', 'control varint too long')
}

export const unzigzag = (v: number): number => (v % 2 === 1 ? -(v + 1) / 2 : v / 2)
