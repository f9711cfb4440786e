/**
 * Fields every signed document has (TUF 1.0 §4.2 "signed" common attributes):
 * `_type`, `spec_version`, `version`, `expires`.
 */
import { TrustError } from '../errors.js'
import { fail, int, obj, str, type Obj } from './guard.js'

/** TUF specification version we write; readers accept any 1.x (§4.2). */
export const SPEC_VERSION = '1.0.31'

export type DocType = 'root' | 'targets' | 'delta' | 'assignment'

export interface SignedCommon<T extends DocType = DocType> {
  _type: T
  spec_version: string
  /** integer >= 1, incremented on every new version of the document */
  version: number
  /** UTC, `YYYY-MM-DDTHH:MM:SSZ` (TUF §4.2: ISO 8601, no fractional seconds) */
  expires: string
}

const EXPIRES = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/

/** `expires` text for an instant (fractional seconds dropped). */
export function formatExpires(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** `expires` text for now + `seconds`. */
export function expiresIn(seconds: number, now: Date = new Date()): string {
  return formatExpires(new Date(now.getTime() + seconds * 1000))
}

/** An instant that round-trips: `2099-02-30`, `…-04-31` or `T24:00:00` would roll over, and are refused. */
export function parseExpires(text: string): Date {
  const d = new Date(text)
  if (!EXPIRES.test(text) || Number.isNaN(d.getTime()) || formatExpires(d) !== text) fail('expires', 'a real UTC instant YYYY-MM-DDTHH:MM:SSZ')
  return d
}

/** Check the common fields and that `_type` is the expected one. */
export function checkCommon<T extends DocType>(v: unknown, type: T): Obj & SignedCommon<T> {
  const o = obj(v, 'signed')
  if (o._type !== type)
    throw new TrustError('DOC_WRONG_TYPE', `expected _type ${type}, got ${String(o._type)}`, { expected: type, actual: o._type })
  const spec = str(o.spec_version, 'spec_version', 32)
  if (!/^1\.\d+(\.\d+)?$/.test(spec)) fail('spec_version', 'a 1.x version')
  int(o.version, 'version', 1)
  parseExpires(str(o.expires, 'expires', 32))
  return o as Obj & SignedCommon<T>
}

export function commonFields<T extends DocType>(type: T, version: number, expires: string): SignedCommon<T> {
  return { _type: type, spec_version: SPEC_VERSION, version, expires }
}
