import { createHash } from 'node:crypto'
import { readSync } from 'node:fs'
import { inflateRawSync } from 'node:zlib'
import { huff } from '../../client-sdk/src/delta/huff.js'
import { deflateMember } from '../../client-sdk/src/delta/member.js'
import { puff, puffStream } from '../../client-sdk/src/delta/puff.js'
import { sampledGrams } from './gap-probe.js'

/**
 * Compressed members inside an image (format v2): deflate streams of gzip files (a
 * changelog.Debian.gz, a man page, an initrd) and of zip entries (a .jar). A few changed
 * source lines change such a stream wholesale, so a byte diff pays about its whole size;
 * diffing the decoded bytes and re-encoding on the device pays for the change only.
 * Puffin's rule: a member is used only after the builder has re-encoded it and got every
 * byte back: with recorded zlib parameters (codec 1, only members Node's zlib made), or
 * from its puff (codec 2: puff.ts/huff.ts, any encoder).
 */

/**
 * the member codecs a build may use: 'deflate' needs the device's zlib to be the builder's,
 * 'puff' does not; 'spool' (format 3) is puff through a file on the device, for members
 * that decode to more than an op may hold in memory
 */
export type MemberCodecName = 'deflate' | 'puff' | 'spool'

/** zlib deflate parameters (the same names node:zlib takes) */
export interface DeflateParams {
  level: number
  windowBits: number
  memLevel: number
  strategy: number
}

export interface FoundMember {
  /** where the raw deflate stream starts in the image, and its compressed length */
  at: number
  len: number
  /** decoded length */
  rawLen: number
  /** sha256 (hex) of the compressed bytes: an unchanged member is left to the byte matcher */
  sha: string
  /** target members only: parameters that re-encode it bit-exactly, when any do (codec 1) */
  params?: DeflateParams
  /** target members only: its puff's length, when huffing the puff gives every byte back (codec 2) */
  puffLen?: number
  /** target members over maxRawBytes only: its spooled puff's length, when that round-trips (codec 3) */
  spoolLen?: number
  /** sampled grams of the first decoded bytes, to find the source member a target member came from */
  sketch: number[]
}

export interface MemberScanOptions {
  /** members that decode to more are left to the byte diff: the device holds old, new and re-encoded bytes at once */
  maxRawBytes: number
  /** with the codec 'spool': members that decode to more than maxRawBytes and up to this are spooled (codec 3) */
  maxSpoolRawBytes?: number
  /** members shorter than this (compressed) are not worth an op header and a descriptor */
  minBytes: number
  /** try to prove re-encoding (target side), with these codecs */
  prove: boolean
  codecs?: readonly MemberCodecName[]
  /** compressed sha256s not worth proving: members the source has unchanged */
  unchanged?: ReadonlySet<string>
}

/**
 * Parameters tried, in order, for the levels the member's header allows. Each try
 * deflates the whole member once, so the header's hint (gzip XFL, zip flag bits 1–2)
 * keeps most members to two tries.
 */
const tries = (levels: number[]): DeflateParams[] => levels.flatMap((level) => [8, 9].map((memLevel) => ({ level, windowBits: 15, memLevel, strategy: 0 })))
const ANY_LEVEL = [6, 9, 1, 2, 3, 4, 5, 7, 8]
/** RFC 1952 §2.3.1 XFL: 2 = maximum compression, 4 = fastest */
const GZIP_HINT: Record<number, number[]> = { 2: [9], 4: [1] }
/** APPNOTE 4.4.4, method 8, bits 1–2: 0 normal, 1 maximum, 2 fast, 3 super fast */
const ZIP_HINT: number[][] = [[6, 5, 7, 8, 4], [9, 8], [1, 2, 3], [1]]

const CHUNK = 8 << 20
const SKETCH_BYTES = 64 * 1024

/** Scans an image for gzip and zip-entry deflate streams; returns them in image order, without overlaps. */
export function scanMembers(fd: number, size: number, o: MemberScanOptions): FoundMember[] {
  const out: FoundMember[] = []
  const chunk = Buffer.allocUnsafe(CHUNK)
  // source members as large as a spooled target member may use (the builder asks only with the codec)
  const maxRaw = Math.max(o.maxRawBytes, o.maxSpoolRawBytes ?? 0)
  // a member's compressed bytes are at most about its decoded size (+0.1% for stored blocks)
  const maxComp = maxRaw + (maxRaw >> 6) + 1024
  const scratch = Buffer.allocUnsafe(maxComp)
  let next = 0 // members may not overlap: skip candidates inside the last one found
  for (let base = 0; base < size; base += CHUNK - 64) {
    const n = readSync(fd, chunk, 0, Math.min(CHUNK, size - base), base)
    if (n <= 0) break
    for (const [i, start, levels] of candidates(chunk.subarray(0, n))) {
      if (base + i < next || start < 0) continue
      const at = base + start
      // most members are small: read 256 KiB first, all of maxComp only if the stream goes on
      let m: FoundMember | undefined | 'more' = 'more'
      for (const want of [256 * 1024, maxComp]) {
        if (m !== 'more') break
        const got = readSync(fd, scratch, 0, Math.min(want, size - at), at)
        m = decodeAt(scratch.subarray(0, got), at, levels, o, maxRaw, got === size - at || want === maxComp)
      }
      if (m && m !== 'more') {
        out.push(m)
        next = m.at + m.len
      }
    }
    if (base + n >= size) break
  }
  return out
}

/**
 * Offsets of gzip (1f 8b 08) and zip local-file (PK 03 04, method 8) headers, with where
 * their deflate data starts (-1: not parseable) and the levels their header hints at.
 */
function* candidates(b: Buffer): Generator<[number, number, number[]]> {
  let gz = b.indexOf(GZIP_MAGIC)
  let zip = b.indexOf(ZIP_MAGIC)
  while (gz >= 0 || zip >= 0) {
    if (zip < 0 || (gz >= 0 && gz < zip)) {
      yield [gz, gzipDataStart(b, gz), (gz + 8 < b.length && GZIP_HINT[b[gz + 8]!]) || ANY_LEVEL]
      gz = b.indexOf(GZIP_MAGIC, gz + 1)
    } else {
      yield [zip, zipDataStart(b, zip), zip + 8 < b.length ? ZIP_HINT[(b[zip + 6]! >> 1) & 3]! : ANY_LEVEL]
      zip = b.indexOf(ZIP_MAGIC, zip + 1)
    }
  }
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08])
const ZIP_MAGIC = Buffer.from('PK\x03\x04', 'latin1')

/** RFC 1952 §2.3: 10 fixed bytes, then FEXTRA, FNAME, FCOMMENT and FHCRC as the flags say */
function gzipDataStart(b: Buffer, i: number): number {
  if (i + 10 > b.length) return -1
  const flags = b[i + 3]!
  if (flags & 0xe0) return -1 // reserved bits
  let p = i + 10
  if (flags & 4) {
    if (p + 2 > b.length) return -1
    p += 2 + b.readUInt16LE(p)
  }
  for (const bit of [8, 16]) {
    if (!(flags & bit)) continue
    const z = b.indexOf(0, p)
    if (z < 0 || z - p > 4096) return -1
    p = z + 1
  }
  if (flags & 2) p += 2
  return p < b.length ? p : -1
}

/** APPNOTE 4.3.7: a 30-byte local header, the name and the extra field, then the data */
function zipDataStart(b: Buffer, i: number): number {
  if (i + 30 > b.length || b.readUInt16LE(i + 8) !== 8) return -1
  const p = i + 30 + b.readUInt16LE(i + 26) + b.readUInt16LE(i + 28)
  return p < b.length ? p : -1
}

/** The member whose deflate data starts at bytes[0]; 'more' when the stream runs past `bytes` and more can be read. */
function decodeAt(bytes: Buffer, at: number, levels: number[], o: MemberScanOptions, maxRaw: number, all: boolean): FoundMember | undefined | 'more' {
  let raw: Buffer
  let len: number
  try {
    const r = inflateRawSync(bytes, { info: true, maxOutputLength: maxRaw }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } }
    raw = r.buffer
    len = r.engine.bytesWritten
  } catch (e) {
    // not deflate, or larger than we take; a stream cut by the read may just need more bytes
    return !all && (e as { code?: string }).code === 'Z_BUF_ERROR' ? 'more' : undefined
  }
  if (len < o.minBytes || len > bytes.length || raw.length === 0) return undefined
  const comp = bytes.subarray(0, len)
  const m: FoundMember = {
    at,
    len,
    rawLen: raw.length,
    sha: createHash('sha256').update(comp).digest('hex'),
    sketch: [...new Set(sampledGrams(raw.subarray(0, SKETCH_BYTES)))],
  }
  if (o.prove && !o.unchanged?.has(m.sha) && raw.length > o.maxRawBytes) {
    const p = spoolPuffOf(comp, raw.length)
    if (p) m.spoolLen = p.length
  } else if (o.prove && !o.unchanged?.has(m.sha)) {
    const codecs = o.codecs ?? ['deflate', 'puff']
    if (codecs.includes('deflate')) m.params = tries(levels).find((p) => deflateMember(p, raw).equals(comp))
    if (codecs.includes('puff')) {
      const p = puffOf(comp, raw.length)
      if (p) m.puffLen = p.length
    }
  }
  return m
}

/**
 * Pairs each target member with the source member it most likely came from: the one that
 * shares most of its sampled grams (at least a fifth of them), found through an inverted
 * index of the source sketches. Unchanged members (same compressed bytes somewhere in the
 * source) get no pair: the byte matcher copies them.
 */
export function pairMembers(source: FoundMember[], target: FoundMember[]): Array<{ target: FoundMember; source?: FoundMember }> {
  const shas = new Set(source.map((m) => m.sha))
  const index = new Map<number, number[]>()
  for (const [i, m] of source.entries()) {
    for (const g of m.sketch) {
      const list = index.get(g)
      if (!list) index.set(g, [i])
      else if (list.length < 64) list.push(i) // grams shared by many members say nothing
    }
  }
  const out: Array<{ target: FoundMember; source?: FoundMember }> = []
  for (const t of target) {
    if (shas.has(t.sha) || (!t.params && t.puffLen === undefined && t.spoolLen === undefined)) continue
    const votes = new Map<number, number>()
    for (const g of t.sketch) for (const i of index.get(g) ?? []) votes.set(i, (votes.get(i) ?? 0) + 1)
    let best = -1
    let bestVotes = 0
    for (const [i, v] of votes) if (v > bestVotes || (v === bestVotes && Math.abs(source[i]!.at - t.at) < Math.abs(source[best]!.at - t.at))) [best, bestVotes] = [i, v]
    const source_ = best >= 0 && bestVotes >= Math.max(1, t.sketch.length / 5) ? source[best] : undefined
    out.push(source_ ? { target: t, source: source_ } : { target: t })
  }
  return out
}

/**
 * A member's puff when huffing it gives every compressed byte back (the build-time proof
 * of codec 2), else undefined: not deflate puff can spell. A puff holds at most ~1.25 bytes
 * per decoded byte (a one-byte literal run between two 3-byte matches) plus block headers.
 */
export function puffOf(comp: Buffer, rawLen: number): Buffer | undefined {
  try {
    const p = puff(comp, 2 * rawLen + 65536)
    return huff(p, comp.length).equals(comp) ? p : undefined
  } catch {
    return undefined
  }
}

/**
 * Members that decode to more stay byte-diffed or are spooled (codec 3): with codecs 1 and
 * 2 the device holds a member's old, new and re-encoded bytes at once.
 */
export const MEMBER_MAX_RAW = 4 << 20

/**
 * A member's spooled puff (codec 3: literal runs cut as the device cuts them) when huffing
 * it gives every compressed byte back, else undefined (the scan's proof). With `prove`
 * false, just the puff, or undefined when it is not deflate puff spells: a source member
 * (the device only puffs it), or a target member the scan has proven already.
 */
export function spoolPuffOf(comp: Buffer, rawLen: number, prove = true): Buffer | undefined {
  try {
    const chunks: Buffer[] = []
    puffStream({ total: comp.length, fill: (buf, at) => buf.set(comp.subarray(at, at + buf.length)) }, 2 * rawLen + 65536, (c) => chunks.push(Buffer.from(c)))
    const p = Buffer.concat(chunks)
    return !prove || huff(p, comp.length).equals(comp) ? p : undefined
  } catch {
    return undefined
  }
}
