/**
 * OLPC canonical JSON (http://wiki.laptop.org/go/Canonical_JSON), the form TUF 1.0
 * §4.2 signs: object keys sorted, no insignificant whitespace, integers only, and in
 * strings only `"` and `\` escaped. Sorting is by UTF-16 code unit, as
 * python-securesystemslib and @tufjs/canonical-json do for BMP keys.
 */
import { TrustError } from './errors.js'

/** Deeper nesting than this is refused (no legitimate metadata comes close). */
const MAX_DEPTH = 32

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue }

function encodeString(s: string, wire: boolean): string {
  let out = '"'
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x22 || c === 0x5c) {
      out += s.slice(start, i) + '\\' + s[i]
      start = i + 1
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate has no UTF-8 encoding; two encoders would disagree on its bytes.
      const pair = c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00
      if (!pair) throw new TrustError('DOC_NOT_CANONICAL', 'string contains a lone UTF-16 surrogate')
      i++
    }
  }
  // Wire form: the same, except control characters are escaped as JSON.stringify
  // does (e.g. the newlines of a PEM key), so the transmitted bytes are valid JSON.
  return wire ? JSON.stringify(s) : out + s.slice(start) + '"'
}

function encode(v: unknown, depth: number, wire: boolean): string {
  if (depth > MAX_DEPTH) throw new TrustError('DOC_NOT_CANONICAL', `nesting deeper than ${MAX_DEPTH}`)
  switch (typeof v) {
    case 'string':
      return encodeString(v, wire)
    case 'boolean':
      return v ? 'true' : 'false'
    case 'number':
      // Floats, -0, NaN and integers beyond 2^53 have no single canonical form.
      if (!Number.isSafeInteger(v) || Object.is(v, -0))
        throw new TrustError('DOC_NOT_CANONICAL', `number ${String(v)} is not a safe integer`)
      return String(v)
    case 'object': {
      if (v === null) return 'null'
      if (Array.isArray(v)) return '[' + v.map((x) => encode(x, depth + 1, wire)).join(',') + ']'
      const o = v as Record<string, unknown>
      const keys = Object.keys(o).sort()
      let out = '{'
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string
        const x = o[k]
        if (x === undefined) continue // like JSON.stringify: absent optional fields
        if (out.length > 1) out += ','
        out += encodeString(k, wire) + ':' + encode(x, depth + 1, wire)
      }
      return out + '}'
    }
    default:
      throw new TrustError('DOC_NOT_CANONICAL', `cannot encode a ${typeof v} in canonical JSON`)
  }
}

/** The canonical JSON text of `value`. Throws DOC_NOT_CANONICAL for floats, lone surrogates, etc. */
export function canonicalize(value: unknown): string {
  return encode(value, 0, false)
}

/**
 * The canonical wire form of `value`: OLPC canonical JSON, except that control
 * characters in strings are escaped as JSON requires. This is how every document
 * is transmitted and stored; `parseCanonical` accepts nothing else.
 */
export function canonicalWire(value: unknown): string {
  return encode(value, 0, true)
}

/** The canonical JSON bytes (UTF-8) of `value`: exactly what TUF signs. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(encode(value, 0, false), 'utf8')
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Parse bytes that must already be in canonical wire form (see `canonicalWire`).
 * Non-canonical input (whitespace, unsorted or duplicate keys, floats, escapes a
 * canonical encoder would not write) is refused: a duplicate key in particular is a parser-differential attack, where
 * two JSON parsers read two different values out of one signed document.
 *
 * `maxBytes` caps the input before any parsing (endless-data attack, TUF §5.2).
 */
export function parseCanonical(bytes: Uint8Array, maxBytes: number): JsonValue {
  if (bytes.byteLength > maxBytes)
    throw new TrustError('DOC_TOO_LARGE', `document is ${bytes.byteLength} bytes, cap is ${maxBytes}`, {
      length: bytes.byteLength,
      maxBytes,
    })
  let text: string
  let value: JsonValue
  try {
    text = utf8.decode(bytes)
    value = JSON.parse(text) as JsonValue
  } catch (e) {
    throw new TrustError('DOC_MALFORMED', 'document is not UTF-8 JSON', undefined, { cause: e })
  }
  if (canonicalWire(value) !== text)
    throw new TrustError('DOC_NOT_CANONICAL', 'document is not in canonical wire form')
  return value
}

/** True when `bytes` are valid canonical JSON. */
export function isCanonical(bytes: Uint8Array): boolean {
  try {
    parseCanonical(bytes, Number.MAX_SAFE_INTEGER)
    return true
  } catch {
    return false
  }
}
