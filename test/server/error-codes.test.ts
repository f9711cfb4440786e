/**
 * Server error codes are one union (server/domain/error-codes.ts) with the kind beside
 * each code; the status still comes from the one table in server/http/errors.ts.
 * `npx tsc -p .` type-checks this file: the @ts-expect-error lines are the proof that an
 * unknown code, or a code thrown as another kind, does not compile.
 */
import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ERROR_CODES, type ErrorCode } from '../../server/domain/error-codes.js'
import { conflict, invalid, notFound, SlipwayError } from '../../server/domain/errors.js'
import { toErrorResponse } from '../../server/http/errors.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

t.test('a code that is not listed, or is thrown as another kind, does not compile', async (t) => {
  // @ts-expect-error NO_SUCH_CODE is not in ERROR_CODES
  const unknown = new SlipwayError('invalid', 'NO_SUCH_CODE', 'x')
  // @ts-expect-error RELEASE_NOT_FOUND is a not-found code
  const wrongKind = invalid('RELEASE_NOT_FOUND', 'x')
  // @ts-expect-error RANGE_MALFORMED is a range code
  const wrongKind2 = new SlipwayError('conflict', 'RANGE_MALFORMED', 'x')
  t.equal(unknown.code, 'NO_SUCH_CODE', 'at run time it is still just a string')
  t.equal(wrongKind.kind, 'invalid')
  t.equal(wrongKind2.kind, 'conflict')
  t.equal(notFound('RELEASE_NOT_FOUND', 'x').code, 'RELEASE_NOT_FOUND')
  t.equal(conflict('RELEASE_EXISTS', 'x').kind, 'conflict')
})

t.test('every code answers with the status of its kind, from the one map in http/errors.ts', async (t) => {
  const classOf: Record<string, number> = {
    invalid: 400,
    unauthenticated: 401,
    forbidden: 403,
    'not-found': 404,
    conflict: 409,
    'too-large': 413,
    range: 416,
    unprocessable: 422,
    'rate-limited': 429,
    unavailable: 503,
    internal: 500,
  }
  const codes = Object.entries(ERROR_CODES) as Array<[ErrorCode, (typeof ERROR_CODES)[ErrorCode]]>
  t.ok(codes.length > 100, `${codes.length} codes`)
  for (const [code, kind] of codes) {
    const { status, body } = toErrorResponse(new SlipwayError(kind, code, 'm'))
    if (status !== classOf[kind] || body.error.code !== code) t.fail(`${code} (${kind}) answered ${status} ${body.error.code}`)
  }
  t.pass('each code maps through its kind')
})

t.test('every listed code is thrown somewhere in server/ (the list holds no dead codes)', async (t) => {
  const walk = (d: string, out: string[] = []): string[] => {
    for (const e of readdirSync(d)) {
      const p = join(d, e)
      if (statSync(p).isDirectory()) walk(p, out)
      else if (p.endsWith('.ts') && !p.endsWith('error-codes.ts')) out.push(p)
    }
    return out
  }
  const source = walk(join(root, 'server'))
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n')
  t.same(
    Object.keys(ERROR_CODES).filter((c) => !source.includes(`'${c}'`)),
    [],
    'each code appears quoted in server code',
  )
})

t.test('a saturated database is 503 DATABASE_BUSY with Retry-After, not a 500', async (t) => {
  // the real errors: node-postgres's pool wait timing out, and SQLite's lock wait running out
  const pg = (await import('pg')).default
  const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres', max: 1, connectionTimeoutMillis: 200 })
  t.teardown(() => pool.end())
  const held = await pool.connect()
  const poolError = await pool.connect().then(
    (c) => (c.release(), undefined),
    (e: unknown) => e,
  )
  held.release()
  t.ok(poolError instanceof Error, 'the second connect waited and failed')
  const Database = (await import('better-sqlite3')).default
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const dir = mkdtempSync(join(tmpdir(), 'slipway-busy-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const a = new Database(join(dir, 'db.sqlite'))
  const b = new Database(join(dir, 'db.sqlite'), { timeout: 50 })
  t.teardown(() => (a.close(), b.close()))
  a.exec('create table x (v integer)')
  a.exec('begin exclusive')
  let sqliteError: unknown
  try {
    b.exec('insert into x values (1)')
  } catch (e) {
    sqliteError = e
  }
  a.exec('rollback')
  t.equal((sqliteError as { code?: string }).code, 'SQLITE_BUSY')
  for (const [what, e] of [['pg pool', poolError], ['sqlite', sqliteError]] as const) {
    const r = toErrorResponse(e)
    t.equal(r.status, 503, what)
    t.equal(r.body.error.code, 'DATABASE_BUSY', what)
    t.equal(r.headers['retry-after'], '5', `${what}: callers are told when to come back`)
  }
  const other = toErrorResponse(new Error('timeout exceeded when trying to connect to something else'))
  t.same([other.status, other.body.error.code], [500, 'INTERNAL'], 'only the pool wait itself counts as busy')
})
