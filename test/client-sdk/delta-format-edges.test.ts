/**
 * The delta format's codecs byte by byte (client-sdk/src/delta/format.ts): the header and
 * op header layouts, every refusal of each decoder alone (code, message and details),
 * the 2^53 bound of u64 fields, LEB128 control varints and zigzag. Written for the
 * surviving mutants of `npm run mutate -- --area delta`: the apply tests reach these
 * functions only through whole patches, where a wrong byte offset or a lost check
 * often still ends in some refusal.
 */
import { createHash } from 'node:crypto'
import t from 'tap'
import {
  DeltaError,
  decodeHeader,
  decodeOpHeader,
  encodeControl,
  encodeHeader,
  encodeOpHeader,
  FORMAT_NAME,
  FORMAT_NAME_V2,
  HEADER_SIZE,
  MAGIC,
  MAX_CONTROL_ENTRY,
  OP_HEADER_SIZE,
  OpType,
  readVarint,
  unzigzag,
  type DeltaHeader,
  type OpHeader,
} from '../../client-sdk/src/delta/index.js'
import { MEMBER_DESCRIPTOR_SIZE } from '../../client-sdk/src/delta/format.js'

const sha = (s: string) => createHash('sha256').update(s).digest()
const MAX_SAFE = Number.MAX_SAFE_INTEGER // 2^53 - 1

/** The error a call throws, as plain data; or 'no error'. */
function refusal(f: () => unknown): { code: string; message?: string; details?: unknown } {
  try {
    f()
    return { code: 'no error' }
  } catch (e) {
    if (!(e instanceof DeltaError)) return { code: `not a DeltaError: ${String(e)}` }
    return { code: e.code, message: e.message, details: e.details }
  }
}

/** Recomputes the header checksum after a raw edit, so only the field check can refuse it. */
function reseal(b: Buffer): Buffer {
  createHash('sha256').update(b.subarray(0, 112)).digest().copy(b, 112, 0, 16)
  return b
}

const header: DeltaHeader = {
  sourceSize: 0x0102030405,
  targetSize: 0x0a0b0c0d0e,
  opCount: 7,
  maxPayload: 0x11223344,
  sourceSha256: sha('source'),
  targetSha256: sha('target'),
}

t.test('constants of the format', async (t) => {
  t.equal(MAGIC.toString('latin1'), 'SLPDELTA')
  t.equal(FORMAT_NAME, 'slipway-delta-v1')
  t.equal(HEADER_SIZE, 128)
  t.equal(OP_HEADER_SIZE, 80)
  t.equal(MAX_CONTROL_ENTRY, 30)
  t.same(OpType, { COPY: 1, REPLACE: 2, BSDIFF: 3, MEMBER: 4, TRANSPOSED: 5 })
  t.equal(FORMAT_NAME_V2, 'slipway-delta-v2')
  t.equal(MEMBER_DESCRIPTOR_SIZE, 24)
})

t.test('the header: every field at its offset, little-endian, sealed by a truncated sha256', async (t) => {
  const b = encodeHeader(header)
  t.equal(b.length, 128)
  t.equal(b.subarray(0, 8).toString('latin1'), 'SLPDELTA')
  t.equal(b.readUInt16LE(8), 1, 'version')
  t.equal(b.readUInt16LE(10), 0, 'flags')
  t.equal(b.readUInt32LE(12), 128, 'header length')
  t.equal(b.readBigUInt64LE(16), 0x0102030405n)
  t.equal(b.readBigUInt64LE(24), 0x0a0b0c0d0en)
  t.equal(b.readBigUInt64LE(32), 7n)
  t.equal(b.readUInt32LE(40), 0x11223344)
  t.equal(b.readUInt32LE(44), 0, 'reserved')
  t.ok(b.subarray(48, 80).equals(header.sourceSha256))
  t.ok(b.subarray(80, 112).equals(header.targetSha256))
  t.ok(b.subarray(112).equals(createHash('sha256').update(b.subarray(0, 112)).digest().subarray(0, 16)), 'checksum of bytes 0-111')
  t.same(decodeHeader(b), { ...header, version: 1 }, 'decodes to what was encoded, with its version (1 unless asked)')
})

t.test('a decoded header owns its hashes', async (t) => {
  const b = encodeHeader(header)
  const h = decodeHeader(b)
  b.fill(0)
  t.ok(h.sourceSha256.equals(header.sourceSha256) && h.targetSha256.equals(header.targetSha256), 'not views into the read buffer')
})

t.test('header refusals, each alone', async (t) => {
  const other = encodeHeader(header)
  other.write('BSDIFF40', 0, 'latin1')
  t.match(refusal(() => decodeHeader(other)), { code: 'DELTA_BAD_MAGIC', message: 'not a Slipway delta (bad magic)' })
  const lastMagicByte = encodeHeader(header)
  lastMagicByte[7] = 0x42 // 'B' for the last 'A'
  t.match(refusal(() => decodeHeader(reseal(lastMagicByte))), { code: 'DELTA_BAD_MAGIC' }, 'all eight bytes of the magic count')

  for (const version of [0, 4]) {
    const b = encodeHeader(header)
    b.writeUInt16LE(version, 8)
    t.match(refusal(() => decodeHeader(reseal(b))), {
      code: 'DELTA_UNSUPPORTED',
      message: `unsupported delta format version ${version}`,
      details: { version },
    })
  }

  for (const at of [16, 111, 112, 127]) {
    const b = encodeHeader(header)
    b[at] = b[at]! ^ 0x01
    t.match(refusal(() => decodeHeader(b)), { code: 'DELTA_CORRUPT', message: 'delta header checksum mismatch' }, `a bit flipped at ${at}`)
  }

  const flags = (edit: (b: Buffer) => void, what: string) => {
    const b = encodeHeader(header)
    edit(b)
    t.match(refusal(() => decodeHeader(reseal(b))), { code: 'DELTA_UNSUPPORTED', message: 'unknown delta header flags or length' }, what)
  }
  flags((b) => b.writeUInt16LE(1, 10), 'a flag bit')
  flags((b) => b.writeUInt16LE(0x8000, 10), 'the high flag bit')
  flags((b) => b.writeUInt32LE(129, 12), 'a longer header')
  flags((b) => b.writeUInt32LE(1, 44), 'the reserved word')
  flags((b) => b.writeUInt32LE(0x80000000, 44), 'the reserved word, high bit')
})

t.test('u64 fields: 2^53 - 1 is the largest accepted, 2^53 and above are refused naming the field', async (t) => {
  const at = { sourceSize: 16, targetSize: 24, opCount: 32 } as const
  for (const [field, offset] of Object.entries(at)) {
    const ok = encodeHeader({ ...header, [field]: MAX_SAFE })
    t.equal(decodeHeader(ok)[field as keyof typeof at], MAX_SAFE, `${field} = 2^53 - 1`)
    for (const v of [2n ** 53n, 2n ** 64n - 1n]) {
      const b = encodeHeader(header)
      b.writeBigUInt64LE(v, offset)
      t.match(refusal(() => decodeHeader(reseal(b))), {
        code: 'DELTA_SIZE_LIMIT',
        message: `${field} is out of range`,
        details: { field, value: v.toString() },
      })
    }
  }
})

const bsdiff: OpHeader = {
  type: OpType.BSDIFF,
  payloadLength: 0x01020304,
  targetOffset: 0x0102030405,
  targetLength: 0x0203040506,
  srcOffset: 0x0304050607,
  srcLength: 0x0405060708,
  ctrlLength: 0x100,
  diffLength: 0x200,
  sha256: sha('op'),
}
const copy: OpHeader = { type: OpType.COPY, payloadLength: 0, targetOffset: 10, targetLength: 20, srcOffset: 30, srcLength: 20, ctrlLength: 0, diffLength: 0, sha256: sha('copy') }
const replace: OpHeader = { type: OpType.REPLACE, payloadLength: 9, targetOffset: 10, targetLength: 20, srcOffset: 0, srcLength: 0, ctrlLength: 0, diffLength: 0, sha256: sha('replace') }

t.test('the op header: every field at its offset', async (t) => {
  const b = encodeOpHeader(bsdiff)
  t.equal(b.length, 80)
  t.equal(b[0], 3, 'type')
  t.equal(b.readUIntLE(1, 3), 0, 'reserved')
  t.equal(b.readUInt32LE(4), 0x01020304)
  t.equal(b.readBigUInt64LE(8), 0x0102030405n)
  t.equal(b.readBigUInt64LE(16), 0x0203040506n)
  t.equal(b.readBigUInt64LE(24), 0x0304050607n)
  t.equal(b.readBigUInt64LE(32), 0x0405060708n)
  t.equal(b.readUInt32LE(40), 0x100)
  t.equal(b.readUInt32LE(44), 0x200)
  t.ok(b.subarray(48).equals(bsdiff.sha256))
  for (const op of [bsdiff, copy, replace]) t.same(decodeOpHeader(encodeOpHeader(op)), op, `type ${op.type} decodes to what was encoded`)
  const mine = encodeOpHeader(copy)
  const decoded = decodeOpHeader(mine)
  mine.fill(0)
  t.ok(decoded.sha256.equals(copy.sha256), 'the decoded sha256 is a copy')
})

t.test('op header refusals, each alone', async (t) => {
  const raw = (op: OpHeader, edit: (b: Buffer) => void) => {
    const b = encodeOpHeader(op)
    edit(b)
    return refusal(() => decodeOpHeader(b))
  }
  for (const type of [0, 4, 255]) {
    t.match(raw(copy, (b) => (b[0] = type)), { code: 'DELTA_UNSUPPORTED', message: `unknown delta op type ${type}`, details: { type } })
  }
  for (const at of [1, 2, 3]) {
    t.match(raw(copy, (b) => (b[at] = 1)), { code: 'DELTA_CORRUPT', message: 'reserved op header bytes are not zero' }, `reserved byte ${at}`)
  }
  for (const [field, offset] of [['targetOffset', 8], ['targetLength', 16], ['srcOffset', 24], ['srcLength', 32]] as const) {
    t.match(raw(bsdiff, (b) => b.writeBigUInt64LE(2n ** 53n, offset)), {
      code: 'DELTA_SIZE_LIMIT',
      message: `${field} is out of range`,
      details: { field, value: '9007199254740992' },
    })
  }

  const invalid = (op: OpHeader, why: string, what: string) => {
    const r = refusal(() => decodeOpHeader(encodeOpHeader(op)))
    t.match(r, { code: 'DELTA_CORRUPT', message: `invalid op header: ${why}` }, what)
    return r
  }
  const empty = invalid({ ...replace, targetLength: 0 }, 'empty op', 'an op that writes nothing')
  t.same(empty.details, { op: { ...replace, targetLength: 0, sha256: undefined } }, 'the details carry the op, without its hash')
  invalid({ ...copy, payloadLength: 1 }, 'COPY fields', 'a COPY with a payload')
  invalid({ ...copy, srcLength: 21 }, 'COPY fields', 'a COPY reading more than it writes')
  invalid({ ...copy, srcLength: 19 }, 'COPY fields', 'a COPY reading less than it writes')
  invalid({ ...copy, ctrlLength: 1 }, 'stream lengths on an op without streams', 'a COPY with a control stream')
  invalid({ ...replace, diffLength: 1 }, 'stream lengths on an op without streams', 'a REPLACE with a diff stream')
  invalid({ ...replace, ctrlLength: 1 }, 'stream lengths on an op without streams', 'a REPLACE with a control stream')
  invalid({ ...replace, srcOffset: 1 }, 'REPLACE has a source extent', 'a REPLACE with a source offset')
  invalid({ ...replace, srcLength: 1 }, 'REPLACE has a source extent', 'a REPLACE with a source length')
  invalid({ ...bsdiff, payloadLength: 0x2ff }, 'stream lengths exceed payload', 'control and diff one byte longer than the payload')

  const fine = (op: OpHeader, what: string) => t.same(decodeOpHeader(encodeOpHeader(op)), op, what)
  fine({ ...bsdiff, payloadLength: 0x300 }, 'a BSDIFF whose control and diff fill the payload (no extra)')
  fine({ ...bsdiff, payloadLength: 0x300, srcLength: 1, targetLength: 5 }, 'a BSDIFF may read less or more than it writes')
  fine({ ...bsdiff, payloadLength: 0x300, srcOffset: 0, srcLength: 0 }, 'and from an empty extent (extra bytes only)')
  fine({ ...copy, srcOffset: 0 }, 'a COPY from the start of the source')
  fine({ ...replace, payloadLength: 0 }, 'a REPLACE with an empty payload (refused later, by its stream)')
  fine({ ...copy, targetLength: 1, srcLength: 1 }, 'one byte')
})

t.test('control entries as LEB128 varints, z zigzag-encoded', async (t) => {
  const bytes = (entries: Array<[number, number, number]>) => [...encodeControl(entries)]
  t.same(bytes([]), [])
  t.same(bytes([[0, 0, 0]]), [0, 0, 0])
  t.same(bytes([[1, 2, 1]]), [1, 2, 2], 'z = 1 → 2')
  t.same(bytes([[1, 2, -1]]), [1, 2, 1], 'z = -1 → 1')
  t.same(bytes([[0, 0, -64]]), [0, 0, 127])
  t.same(bytes([[0, 0, 64]]), [0, 0, 0x80, 0x01])
  t.same(bytes([[127, 128, 0]]), [0x7f, 0x80, 0x01, 0], '127 in one byte, 128 in two')
  t.same(bytes([[300, 16384, 0]]), [0xac, 0x02, 0x80, 0x80, 0x01, 0])
  t.same(bytes([[MAX_SAFE, 0, 0]]), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0], '2^53 - 1 in eight bytes')
  t.same(bytes([[2 ** 52, 0, 0]]), [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x08, 0, 0], 'above 2^32: no 32-bit arithmetic')
  const many = Array.from({ length: 50 }, (_, i): [number, number, number] => [MAX_SAFE - i, MAX_SAFE, -(2 ** 51)])
  const encoded = encodeControl(many)
  t.equal(encoded.length, 50 * 24, 'fifty entries of three eight-byte varints, none lost to a short buffer')
  let at = 0
  for (const [x, y, z] of many) {
    const read = () => {
      const r = readVarint(encoded, at, encoded.length)!
      at = r[1]
      return r[0]
    }
    t.same([read(), read(), unzigzag(read())], [x, y, z])
  }
  t.equal(at, encoded.length)
})

t.test('readVarint: the value and where the next one starts; null when the end comes first', async (t) => {
  const b = Buffer.from([0x05, 0xac, 0x02, 0x80, 0x01, 0x7f])
  t.same(readVarint(b, 0, b.length), [5, 1])
  t.same(readVarint(b, 1, b.length), [300, 3])
  t.same(readVarint(b, 3, b.length), [128, 5], '0x80 continues: it is not the last byte')
  t.same(readVarint(b, 5, b.length), [127, 6])
  t.equal(readVarint(b, 6, b.length), null, 'nothing left')
  t.equal(readVarint(b, 1, 2), null, 'cut inside the varint by `end`, not by the buffer')
  t.same(readVarint(b, 1, 3), [300, 3], 'ending exactly at `end`')
  t.equal(readVarint(b, 0, 0), null)
  const ten = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])
  t.same(readVarint(ten, 0, 10), [0, 10], 'ten bytes is the most a varint takes')
  const eleven = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])
  t.match(refusal(() => readVarint(eleven, 0, 11)), { code: 'DELTA_CORRUPT', message: 'control varint too long' })
  const max = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])
  t.same(readVarint(max, 0, 8), [MAX_SAFE, 8], '2^53 - 1')
  const over = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])
  t.match(refusal(() => readVarint(over, 0, 8)), { code: 'DELTA_CORRUPT', message: 'control value out of range' }, '2^53')
})

t.test('unzigzag: even values are the non-negative, odd ones the negative', async (t) => {
  t.same([0, 1, 2, 3, 4, 127, 128].map(unzigzag), [0, -1, 1, -2, 2, -64, 64])
  t.equal(unzigzag(2 ** 53 - 2), 2 ** 52 - 1)
  t.equal(unzigzag(2 ** 53 - 1), -(2 ** 52))
})
