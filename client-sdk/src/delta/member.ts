import { createHash } from 'node:crypto'
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { DeltaError } from './errors.js'
import { MEMBER_DESCRIPTOR_SIZE } from './format.js'
import { huff } from './huff.js'
import { puff } from './puff.js'

/**
 * A MEMBER op's descriptor (format version 2): how the compressed stream inside the image
 * is decoded on the device and re-encoded to the exact bytes the builder recorded. The
 * builder writes a member only after it has re-encoded it with these parameters itself
 * and got every byte back (DELTA-FORMAT.md "MEMBER").
 */
export interface MemberDescriptor {
  /**
   * 1: raw deflate (RFC 1951; the body of a gzip file or of a zip entry) decoded with
   * inflate and re-encoded with zlib; 2: the same streams as puffs (puff.ts), written
   * back bit for bit by huff.ts, whatever encoder made them; 3: as 2, with the puffs
   * spooled to disk (spool.ts), for members larger than an op may decode in memory
   */
  codec: number
  /** zlib deflate parameters that reproduce the member (codec 1; 0 for codec 2) */
  level: number
  windowBits: number
  memLevel: number
  strategy: number
  /** decoded length (codec 2: puff length) of the source's member (0 when the op has none) */
  sourceRawLength: number
  /** decoded length (codec 2: puff length) of the target's member: what the inner bsdiff streams produce */
  targetRawLength: number
}

export const MemberCodec = { DEFLATE: 1, PUFF: 2, SPOOL: 3 } as const

export function encodeDescriptor(d: MemberDescriptor): Buffer {
  const b = Buffer.alloc(MEMBER_DESCRIPTOR_SIZE)
  b.writeUInt8(d.codec, 0)
  b.writeUInt8(d.level, 1)
  b.writeUInt8(d.windowBits, 2)
  b.writeUInt8(d.memLevel, 3)
  b.writeUInt8(d.strategy, 4)
  b.writeBigUInt64LE(BigInt(d.sourceRawLength), 8)
  b.writeBigUInt64LE(BigInt(d.targetRawLength), 16)
  return b
}

export function decodeDescriptor(payload: Buffer): MemberDescriptor {
  if (payload.length < MEMBER_DESCRIPTOR_SIZE) throw new DeltaError('DELTA_CORRUPT', 'member op payload is shorter than its descriptor')
  const codec = payload.readUInt8(0)
  if (codec !== MemberCodec.DEFLATE && codec !== MemberCodec.PUFF && codec !== MemberCodec.SPOOL) throw new DeltaError('DELTA_UNSUPPORTED', `unknown member codec ${codec}`, { codec })
  const size = (at: number) => {
    const v = payload.readBigUInt64LE(at)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DeltaError('DELTA_SIZE_LIMIT', 'member length is out of range')
    return Number(v)
  }
  const d: MemberDescriptor = {
    codec,
    level: payload.readUInt8(1),
    windowBits: payload.readUInt8(2),
    memLevel: payload.readUInt8(3),
    strategy: payload.readUInt8(4),
    sourceRawLength: size(8),
    targetRawLength: size(16),
  }
  // the ranges zlib accepts for raw deflate; anything else is not something our builder writes.
  // codecs 2 and 3 have no parameters: they are 0
  const ok = codec !== MemberCodec.DEFLATE ? payload.readUInt32LE(1) === 0 : d.level <= 9 && d.windowBits >= 9 && d.windowBits <= 15 && d.memLevel >= 1 && d.memLevel <= 9 && d.strategy <= 4
  if (!ok || payload.readUIntLE(5, 3) !== 0) throw new DeltaError('DELTA_CORRUPT', 'invalid member descriptor', { descriptor: d })
  return d
}

const params = (d: MemberDescriptor) => ({ level: d.level, windowBits: d.windowBits, memLevel: d.memLevel, strategy: d.strategy })

/**
 * Decodes a raw deflate member that must decode to exactly `declared` bytes. The cap
 * makes a codec bomb (a member that decodes to more than its descriptor says) an error
 * once `declared` bytes are out, never an allocation beyond them.
 */
export function inflateMember(compressed: Buffer, declared: number, what: string, codec: number = MemberCodec.DEFLATE): Buffer {
  if (codec === MemberCodec.PUFF) {
    const p = puff(compressed, declared)
    if (p.length !== declared) throw new DeltaError('DELTA_CORRUPT', `${what} member puffs to ${p.length} bytes, not the declared ${declared}`)
    return p
  }
  let raw: Buffer
  try {
    raw = inflateRawSync(compressed, { maxOutputLength: Math.max(1, declared) })
  } catch (e) {
    const code = (e as { code?: string }).code
    const why = code === 'ERR_BUFFER_TOO_LARGE' ? 'decodes to more than its declared size' : 'is not a valid deflate stream'
    throw new DeltaError('DELTA_CORRUPT', `${what} member ${why}`, { declared }, { cause: e })
  }
  if (raw.length !== declared) throw new DeltaError('DELTA_CORRUPT', `${what} member decodes to ${raw.length} bytes, not the declared ${declared}`)
  return raw
}

/** Re-encodes the rebuilt member (codec 1: zlib, codec 2: huff); DELTA_MEMBER_MISMATCH unless it is byte for byte what the builder recorded. */
export function recompressMember(d: MemberDescriptor, raw: Buffer, length: number, sha256: Buffer): Buffer {
  // codec 2 huffs the rebuilt puff: more than `length` bytes is a mismatch before it is written
  const out = d.codec === MemberCodec.PUFF ? huff(raw, length) : deflateRawSync(raw, params(d))
  checkMember(length, out.length, sha256, createHash('sha256').update(out).digest())
  return out
}

/** DELTA_MEMBER_MISMATCH unless the re-encoded member has the recorded length and sha256. */
export function checkMember(length: number, actualLength: number, sha256: Buffer, actualSha256: Buffer): void {
  if (actualLength !== length || !actualSha256.equals(sha256)) {
    throw new DeltaError('DELTA_MEMBER_MISMATCH', 're-encoding the member does not give the recorded bytes (another zlib than the builder’s?)', {
      expectedLength: length,
      actualLength,
    })
  }
}

/** The same re-encoding on the builder, for its round-trip proof. */
export function deflateMember(d: Pick<MemberDescriptor, 'level' | 'windowBits' | 'memLevel' | 'strategy'>, raw: Buffer): Buffer {
  return deflateRawSync(raw, { level: d.level, windowBits: d.windowBits, memLevel: d.memLevel, strategy: d.strategy })
}
