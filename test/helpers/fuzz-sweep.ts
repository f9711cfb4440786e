/**
 * The API fuzz sweep (issue 11), driven by the server's own OpenAPI document: every
 * route it lists, whatever other branches add, gets generated hostile values of every
 * input class (fast-check) in its path parameters, query, body, headers and content
 * type. For each request: no 5xx, the documented error shape with a stable code, and a
 * refused request stores nothing (row counts of every table unchanged). After each
 * route the server must still answer /healthz; at the end the audit chain verifies.
 * Device routes authenticate only through deviceCall() (device auth changes elsewhere).
 * FUZZ_SEED reproduces a run (the seed is printed at start and by fast-check on failure);
 * FUZZ_RUNS sets the runs per route × input class.
 */
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import type { Test } from 'tap'
import fc from 'fast-check'
import { sql } from 'kysely'
import { connectDatabase } from '../../server/adapters/db/connect.js'
import { verifyChain } from '../../server/domain/audit-chain.js'
import { call } from './api.js'
import { deviceCall } from './device-call.js'
import { enroll, enrollmentToken, publish } from './fleet.js'
import type { TestServer } from './server.js'

export const INPUT_CLASSES = [
  'nul',
  'lone-surrogate',
  'string-10k',
  'int-2^31',
  'int-2^53+',
  'negative',
  'non-integer',
  'deep-nesting',
  'wrong-type',
  'long-path-param',
  'long-header',
  'wrong-content-type',
] as const
export type InputClass = (typeof INPUT_CLASSES)[number]

type Schema = Record<string, any>
interface Route {
  method: string
  path: string
  params: string[]
  query: Record<string, Schema>
  body?: Schema
}

const STABLE_CODE = /^[A-Z][A-Z0-9_]*$/

// ---------------------------------------------------------------- generic values from a schema

/** A plausible value for a schema: where the hostile value is put into. */
function plausible(s: Schema | undefined, depth = 0): unknown {
  if (!s || depth > 6) return 'x'
  if (s.const !== undefined) return s.const
  if (Array.isArray(s.enum)) return s.enum[0]
  const alt = s.anyOf ?? s.oneOf
  if (Array.isArray(alt)) return plausible(alt.find((a: Schema) => a.type !== 'null') ?? alt[0], depth + 1)
  if (s.default !== undefined) return s.default
  const type = Array.isArray(s.type) ? s.type[0] : s.type
  switch (type) {
    case 'string':
      return 'a'.repeat(Math.max(1, s.minLength ?? 1))
    case 'integer':
    case 'number':
      return s.minimum ?? 1
    case 'boolean':
      return true
    case 'array':
      return Array.from({ length: s.minItems ?? 1 }, () => plausible(s.items, depth + 1))
    case 'object': {
      const o: Record<string, unknown> = {}
      for (const [k, v] of Object.entries<Schema>(s.properties ?? {})) o[k] = plausible(v, depth + 1)
      return o
    }
    default:
      return 'x'
  }
}

/** Paths (into the plausible body) of every value a hostile one can replace. */
function slots(v: unknown, at: string[] = [], out: string[][] = []): string[][] {
  if (at.length > 0) out.push(at)
  if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) slots(c, [...at, k], out)
  return out
}

function setAt(root: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value
  const copy: any = Array.isArray(root) ? [...(root as unknown[])] : { ...(root as object) }
  copy[path[0]!] = setAt(copy[path[0]!], path.slice(1), value)
  return copy
}

// ---------------------------------------------------------------- hostile values per class

const deep = fc.integer({ min: 33, max: 3000 }).chain((n) => fc.constantFrom<unknown>(nest(n, 'array'), nest(n, 'object')))
function nest(n: number, kind: 'array' | 'object'): unknown {
  let v: unknown = 1
  for (let i = 0; i < n; i++) v = kind === 'array' ? [v] : { a: v }
  return v
}

/** Values for a JSON slot (body, or query/path as text). */
export const HOSTILE: Partial<Record<InputClass, fc.Arbitrary<unknown>>> = {
  nul: fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })).map(([a, b]) => `${a}\u0000${b}`),
  'lone-surrogate': fc.tuple(fc.string({ maxLength: 8 }), fc.integer({ min: 0xd800, max: 0xdfff })).map(([a, c]) => `${a}${String.fromCharCode(c)}`),
  'string-10k': fc.string({ minLength: 1, maxLength: 1 }).map((c) => c.repeat(10_000)),
  'int-2^31': fc.constantFrom(2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32, -(2 ** 31) - 1),
  'int-2^53+': fc.constantFrom(2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e300, -(2 ** 53) - 2),
  negative: fc.integer({ min: -(2 ** 40), max: -1 }),
  'non-integer': fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).filter((d) => !Number.isInteger(d)),
  'deep-nesting': deep,
  'wrong-type': fc.oneof(fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.object({ maxDepth: 2 }), fc.integer(), fc.string({ maxLength: 5 })),
}

const WRONG_CONTENT_TYPES = ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/octet-stream', '']

/**
 * Percent-encoding that also carries lone surrogates (as their generalized UTF-8 bytes,
 * which is what a hostile client sends); encodeURIComponent would throw on them.
 */
function pct(s: string): string {
  let out = ''
  for (const ch of s) {
    const cp = ch.codePointAt(0)!
    if (cp >= 0xd800 && cp <= 0xdfff) out += [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('')
    else out += encodeURIComponent(ch)
  }
  return out
}

/** A query or path value as text (objects as JSON: the server receives text anyway). */
const asText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v) ?? 'null')

// ---------------------------------------------------------------- the routes

export async function openApiRoutes(srv: TestServer): Promise<Route[]> {
  const doc = (await call(srv, undefined, 'GET', '/docs/json')).json
  const routes: Route[] = []
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    if (path.startsWith('/docs')) continue
    for (const [method, op] of Object.entries<any>(ops)) {
      if (!['get', 'post', 'put', 'patch', 'delete', 'head'].includes(method)) continue
      const params = (op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name)
      const query: Record<string, Schema> = {}
      for (const p of op.parameters ?? []) if (p.in === 'query') query[p.name] = p.schema ?? {}
      const body = op.requestBody?.content?.['application/json']?.schema
      routes.push({ method: method.toUpperCase(), path, params, query, ...(body && { body }) })
    }
  }
  return routes
}

// ---------------------------------------------------------------- one request

interface Case {
  slot: number
  value: unknown
  headerLength: number
  contentType: string
}

interface Outcome {
  status: number
  code?: string
}

export interface SweepResult {
  /** route → class → "status code" → count */
  table: Map<string, Map<InputClass, Map<string, number>>>
  requests: number
}

export async function fuzzSweep(t: Test, srv: TestServer, mode: string): Promise<SweepResult> {
  const seed = process.env['FUZZ_SEED'] !== undefined ? Number(process.env['FUZZ_SEED']) : Math.floor(Math.random() * 2 ** 31)
  const runs = Number(process.env['FUZZ_RUNS'] ?? 3)
  t.comment(`fuzz sweep (${mode}): FUZZ_SEED=${seed} FUZZ_RUNS=${runs}`)
  const admin = srv.adminToken || (await srv.token('admin'))
  // something to point at: a release, a rollout, a device in it
  const rel = await publish(srv, { version: '9.9.9' })
  const dev = await enroll(srv, await enrollmentToken(srv, 'fuzz'))
  await call(srv, admin, 'POST', '/v1/rollouts', { release: `${rel.name}@${rel.version}`, phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }], start: true })
  const counts = rowCounter(srv)
  t.teardown(() => counts.close())

  const routes = await openApiRoutes(srv)
  t.ok(routes.length >= 10, `${routes.length} routes in the OpenAPI document`)
  const result: SweepResult = { table: new Map(), requests: 0 }
  let routeIndex = 0
  for (const route of routes) {
    const name = `${route.method} ${route.path}`
    const row = new Map<InputClass, Map<string, number>>()
    result.table.set(name, row)
    for (const cls of INPUT_CLASSES) {
      const cell = new Map<string, number>()
      row.set(cls, cell)
      const arb = caseFor(route, cls)
      if (!arb) continue
      await fc.assert(
        fc.asyncProperty(arb, async (c) => {
          const before = await counts.snapshot()
          const out = await send(srv, admin, dev, route, cls, c)
          result.requests++
          const label = out.code ? `${out.status} ${out.code}` : String(out.status)
          cell.set(label, (cell.get(label) ?? 0) + 1)
          if (out.status >= 500) throw new Error(`${name} ${cls}: ${out.status} ${out.code ?? ''}`)
          if (out.status >= 400) {
            // a HEAD answer has no body by definition (RFC 9110 §9.3.2): its status is all there is
            if (out.code === undefined && route.method !== 'HEAD') throw new Error(`${name} ${cls}: ${out.status} without the documented error body`)
            const after = await counts.snapshot()
            if (after !== before) throw new Error(`${name} ${cls}: refused (${label}) yet rows changed: ${before} → ${after}`)
          }
        }),
        { numRuns: runs, seed: seed + routeIndex * 131 + INPUT_CLASSES.indexOf(cls), endOnFailure: true },
      )
    }
    routeIndex++
    const health = await call(srv, undefined, 'GET', '/healthz')
    if (health.status !== 200) throw new Error(`the server is down after ${name}`)
  }
  t.pass(`${result.requests} hostile requests over ${routes.length} routes: no 5xx, every refusal in the documented shape, nothing partial stored, server up`)
  const audit = await call(srv, admin, 'GET', '/v1/audit?limit=5000')
  const chain = verifyChain(audit.json.entries)
  t.ok(chain.ok, `the audit chain verifies (${chain.entries} entries)${chain.problem ? `: ${chain.problem}` : ''}`)
  t.comment(renderTable(result))
  return result
}

/** The generated case for a route and class, or undefined when the class has nowhere to go. */
function caseFor(route: Route, cls: InputClass): fc.Arbitrary<Case> | undefined {
  const bodySlots = route.body ? slots(plausible(route.body)).length : 0
  const total = route.params.length + Object.keys(route.query).length + bodySlots
  const base = { headerLength: 0, contentType: 'application/json' }
  if (cls === 'long-path-param') {
    if (route.params.length === 0) return undefined
    return fc.record({ slot: fc.nat({ max: route.params.length - 1 }), value: fc.integer({ min: 101, max: 6000 }).map((n) => 'p'.repeat(n)), headerLength: fc.constant(0), contentType: fc.constant('application/json') })
  }
  if (cls === 'long-header') return fc.record({ slot: fc.constant(-1), value: fc.constant(null), headerLength: fc.integer({ min: 4000, max: 40_000 }), contentType: fc.constant('application/json') })
  if (cls === 'wrong-content-type') {
    if (!route.body) return undefined
    return fc.record({ slot: fc.constant(-1), value: fc.constant(null), headerLength: fc.constant(0), contentType: fc.constantFrom(...WRONG_CONTENT_TYPES) })
  }
  if (total === 0) return undefined
  return fc.record({ slot: fc.nat({ max: total - 1 }), value: HOSTILE[cls]!, headerLength: fc.constant(base.headerLength), contentType: fc.constant(base.contentType) })
}

async function send(srv: TestServer, admin: string, dev: Awaited<ReturnType<typeof enroll>>, route: Route, cls: InputClass, c: Case): Promise<Outcome> {
  const params: Record<string, string> = Object.fromEntries(route.params.map((p) => [p, p === 'sha256' ? '0'.repeat(64) : randomUUID()]))
  const query: Record<string, string> = {}
  let body = route.body ? plausible(route.body) : undefined
  const queryNames = Object.keys(route.query)
  let slot = c.slot
  if (cls === 'long-path-param') params[route.params[slot]!] = c.value as string
  else if (slot >= 0) {
    if (slot < route.params.length) params[route.params[slot]!] = asText(c.value)
    else if ((slot -= route.params.length) < queryNames.length) query[queryNames[slot]!] = asText(c.value)
    else body = setAt(body, slots(body)[slot - queryNames.length]!, c.value)
  }
  const qs = Object.entries(query).map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&')
  const path = route.path.replace(/\{(\w+)\}/g, (_, p: string) => pct(params[p]!)) + (qs ? `?${qs}` : '')
  const headers: Record<string, string> = {}
  if (c.headerLength > 0) headers['x-fuzz'] = 'h'.repeat(c.headerLength)
  const payload = body === undefined ? undefined : JSON.stringify(body)
  if (payload !== undefined) headers['content-type'] = c.contentType
  const isDevice = route.path.startsWith('/v1/device/') && route.path !== '/v1/device/enroll'
  let res: Awaited<ReturnType<typeof call>>
  try {
    res = isDevice ? await deviceCall(srv, dev, route.method, path, payload, headers) : await call(srv, route.path === '/v1/device/enroll' ? undefined : admin, route.method, path, payload, headers)
  } catch (e) {
    // the server may close the connection after answering an over-long header (431): that is the HTTP parser's right
    throw new Error(`${route.method} ${route.path} ${cls}: no answer (${(e as Error).message})`)
  }
  const err = res.json?.error
  const documented = err && typeof err === 'object' && typeof err.code === 'string' && STABLE_CODE.test(err.code) && typeof err.message === 'string'
  return { status: res.status, ...(documented && { code: err.code }) }
}

/** Row counts of every table, as one string: a refused request must leave it unchanged. */
function rowCounter(srv: TestServer): { snapshot(): Promise<string>; close(): Promise<void> } {
  const { db } = connectDatabase({ ...(srv.config.databaseUrl && { databaseUrl: srv.config.databaseUrl }), sqlitePath: join(srv.config.dataDir, 'slipway.db') })
  let query: string | undefined
  return {
    async snapshot() {
      if (!query) {
        const tables = (await db.introspection.getTables()).map((x) => x.name).filter((n) => !n.startsWith('kysely_')).sort()
        query = tables.map((n) => `select '${n}' as t, count(*) as n from "${n}"`).join(' union all ')
      }
      const rows = (await sql.raw<{ t: string; n: number | string }>(query).execute(db)).rows
      return rows.map((r) => `${r.t}=${r.n}`).join(' ')
    },
    close: () => db.destroy(),
  }
}

export function renderTable(r: SweepResult): string {
  const lines = [`route | ${INPUT_CLASSES.join(' | ')}`]
  for (const [route, row] of r.table) {
    const cells = INPUT_CLASSES.map((cls) => {
      const cell = row.get(cls)!
      if (cell.size === 0) return 'n/a'
      return [...cell.entries()].map(([k, n]) => `${k}×${n}`).join(', ')
    })
    lines.push(`${route} | ${cells.join(' | ')}`)
  }
  return lines.join('\n')
}
