/**
 * Shape checks for parsed metadata. Hand-written (no schema library) so the device
 * verifier keeps zero dependencies; every failure is DOC_MALFORMED naming the field.
 */
import { TrustError } from '../errors.js'

export type Obj = Record<string, unknown>

export const fail = (field: string, want: string): never => {
  throw new TrustError('DOC_MALFORMED', `${field} must be ${want}`, { field })
}

export function obj(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(field, 'an object')
  return v as Obj
}

export function str(v: unknown, field: string, max = 1024): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) fail(field, `a non-empty string of at most ${max} chars`)
  return v as string
}

export function int(v: unknown, field: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(field, `an integer >= ${min}`)
  return v as number
}

const HEX64 = /^[0-9a-f]{64}$/
export function sha256Hex(v: unknown, field: string): string {
  if (typeof v !== 'string' || !HEX64.test(v)) fail(field, '64 lowercase hex chars (sha256)')
  return v as string
}

export function strArray(v: unknown, field: string, { min = 0, max = 256 } = {}): string[] {
  if (!Array.isArray(v) || v.length < min || v.length > max) fail(field, `an array of ${min}..${max} strings`)
  return (v as unknown[]).map((x, i) => str(x, `${field}[${i}]`))
}

export function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) fail(field, `one of ${allowed.join(', ')}`)
  return v as T
}
