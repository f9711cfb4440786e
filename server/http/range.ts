/**
 * RFC 7233 byte ranges, single range only. Multi-range (multipart/byteranges) is
 * refused rather than served: devices resume one stream at a time, and refusing
 * keeps every 206 a plain stream of the blob.
 */
import { SlipwayError, type CodeOf } from '../domain/errors.js'
import type { ByteRange } from '../domain/ports/infrastructure.js'

const rangeError = (code: CodeOf<'range'>, message: string, size: number) =>
  new SlipwayError('range', code, message, { size })

/**
 * Returns the inclusive range to serve, or undefined to serve the whole body
 * (no header, or a unit other than bytes, which RFC 7233 §3.1 says to ignore).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined
  const eq = header.indexOf('=')
  if (eq < 0) throw rangeError('RANGE_MALFORMED', 'Range must look like bytes=START-END', size)
  if (header.slice(0, eq).trim().toLowerCase() !== 'bytes') return undefined
  const spec = header.slice(eq + 1).trim()
  if (spec.includes(',')) throw rangeError('RANGE_MULTIPLE', 'only one range per request is served', size)
  const m = /^(\d*)-(\d*)$/.exec(spec)
  if (!m || (m[1] === '' && m[2] === '')) throw rangeError('RANGE_MALFORMED', 'Range must look like bytes=START-END', size)
  const [, first, last] = m as unknown as [string, string, string]
  // RFC 7233 §2.1: suffix range "-N" is the last N bytes
  if (first === '') {
    const n = Number(last)
    if (n === 0 || size === 0) throw rangeError('RANGE_NOT_SATISFIABLE', 'an empty suffix range selects nothing', size)
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  if (last !== '' && Number(last) < start) throw rangeError('RANGE_MALFORMED', 'the range end is before its start', size)
  if (start >= size) throw rangeError('RANGE_NOT_SATISFIABLE', `the range starts at or past the end (${size} bytes)`, size)
  return { start, end }
}
