/**
 * A small validator over the schema subset of `schema.ts`: what the agent checks a
 * server's answer with before it acts on it. It answers the first problem found, as
 * a path and a sentence, or undefined. It never changes the value (no defaults, no
 * removal): the server's validator (Ajv) does that for requests.
 */
import type { FromSchema, JsonSchema } from './schema.js'

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function typeProblem(s: JsonSchema, v: unknown): string | undefined {
  switch (s.type) {
    case undefined:
      return undefined
    case 'object':
      return isObj(v) ? undefined : 'is not an object'
    case 'array':
      return Array.isArray(v) ? undefined : 'is not an array'
    case 'string':
      return typeof v === 'string' ? undefined : 'is not a string'
    case 'integer':
      return Number.isInteger(v) ? undefined : 'is not an integer'
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : 'is not a number'
    case 'boolean':
      return typeof v === 'boolean' ? undefined : 'is not a boolean'
    case 'null':
      return v === null ? undefined : 'is not null'
  }
}

function boundsProblem(s: JsonSchema, v: unknown): string | undefined {
  if (typeof v === 'string') {
    // JSON Schema counts code points, as Ajv does
    const n = [...v].length
    if (s.minLength !== undefined && n < s.minLength) return `is shorter than ${s.minLength}`
    if (s.maxLength !== undefined && n > s.maxLength) return `is longer than ${s.maxLength}`
    if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v)) return `does not match ${s.pattern}`
  }
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) return `is below ${s.minimum}`
    if (s.maximum !== undefined && v > s.maximum) return `is above ${s.maximum}`
    if (s.exclusiveMinimum !== undefined && v <= s.exclusiveMinimum) return `is not above ${s.exclusiveMinimum}`
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < s.minItems) return `has fewer than ${s.minItems} items`
    if (s.maxItems !== undefined && v.length > s.maxItems) return `has more than ${s.maxItems} items`
  }
  return undefined
}

/** The first problem of `v` against `s` ("artifact.length is not an integer"), or undefined. */
export function problemOf(s: JsonSchema, v: unknown, path = 'body'): string | undefined {
  if (s.anyOf) return s.anyOf.some((x) => problemOf(x, v, path) === undefined) ? undefined : `${path} matches none of its ${s.anyOf.length} forms`
  if (s.const !== undefined && v !== s.const) return `${path} is not ${JSON.stringify(s.const)}`
  if (s.enum && !s.enum.includes(v as never)) return `${path} is not one of ${s.enum.join(', ')}`
  const p = typeProblem(s, v) ?? boundsProblem(s, v)
  if (p) return `${path} ${p}`
  if (Array.isArray(v) && s.items) {
    for (let i = 0; i < v.length; i++) {
      const q = problemOf(s.items, v[i], `${path}[${i}]`)
      if (q) return q
    }
  }
  if (isObj(v)) {
    for (const k of s.required ?? []) if (v[k] === undefined) return `${path}.${k} is missing`
    for (const [k, x] of Object.entries(v)) {
      const ps = s.properties?.[k]
      const q = ps ? problemOf(ps, x, `${path}.${k}`) : s.additionalProperties === false ? `${path}.${k} is not allowed` : typeof s.additionalProperties === 'object' ? problemOf(s.additionalProperties, x, `${path}.${k}`) : undefined
      if (q) return q
    }
  }
  return undefined
}

/** Type guard: `v` is a value of the schema. */
export function conforms<const S extends JsonSchema>(s: S, v: unknown): v is FromSchema<S> {
  return problemOf(s, v) === undefined
}
