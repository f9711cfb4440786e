/**
 * Route × role matrix, generated from the route table in the README ("## API"): every
 * /v1 route the server serves (its OpenAPI document) must have exactly one row there,
 * and each route is called as admin, operator, ci, a device, no one, a revoked token and
 * an expired token. Roles the row names get past authentication; others are refused
 * with 403 AUTH_FORBIDDEN, and no one, revoked and expired tokens with 401.
 */
import { readFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'

type Who = 'admin' | 'operator' | 'ci' | 'device'
interface Row {
  method: string
  /** path with every {param} as {} */
  shape: string
  /** a concrete path to call */
  example: string
  who: Set<Who> | 'public'
  line: string
}

const EXAMPLE: Record<string, string> = { id: randomUUID(), sha256: '0'.repeat(64), file: '1.json' }

/** The rows of the README's API table, one per method and path. */
function documented(): Row[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('\n## API\n'), readme.indexOf('\n## ', readme.indexOf('\n## API\n') + 5))
  const rows: Row[] = []
  for (const line of section.split('\n').filter((l) => l.startsWith('| `'))) {
    const [routes, whoCell] = line.slice(2).split(' | ') as [string, string]
    const who: Row['who'] =
      whoCell === 'public'
        ? 'public'
        : new Set(whoCell.split(',').flatMap((w): Who[] => (w.trim() === 'any token' ? ['admin', 'operator', 'ci'] : [w.trim() as Who])))
    for (const [, spec] of routes.matchAll(/`([^`]+)`/g)) {
      const m = /^([A-Z]+(?:\/[A-Z]+)*) (\/v1\/\S+)$/.exec(spec!)
      if (!m) continue // /healthz and other non-/v1 routes
      const path = m[2]!.replace(/\[\?[^\]]*\]$/, '')
      const variants = path.includes('[/{id}]') ? [path.replace('[/{id}]', ''), path.replace('[/{id}]', '/{id}')] : [path]
      for (const v of variants)
        for (const method of m[1]!.split('/')) {
          const example = v.replace(/\{([^}]+)\}/g, (_, p: string) => (p.includes(',') ? p.split(',')[0]! : (EXAMPLE[p] ?? 'x')))
          rows.push({ method, shape: v.replace(/\{[^}]+\}/g, '{}'), example, who, line })
        }
    }
  }
  return rows
}

t.test('every /v1 route allows exactly the roles the README table names', async (t) => {
  // the failed-authentication limit would answer 429 to the matrix's hundreds of refused calls
  const srv = await startServer({ SLIPWAY_AUTH_FAILURES_PER_MINUTE: '0' })
  t.teardown(() => srv.close())
  const rows = documented()
  t.ok(rows.length > 30, `the table was read (${rows.length} method × path rows)`)

  const doc = (await (await fetch(`${srv.url}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> }
  const served: Array<{ method: string; shape: string }> = []
  for (const [path, ops] of Object.entries(doc.paths))
    if (path.startsWith('/v1/'))
      for (const m of Object.keys(ops)) if (m !== 'options') served.push({ method: m.toUpperCase(), shape: path.replace(/\{[^}]+\}/g, '{}') })
  for (const r of served) {
    const found = rows.filter((d) => d.method === r.method && d.shape === r.shape)
    t.equal(found.length, 1, `${r.method} ${r.shape} has exactly one row in the README's API table`)
  }
  for (const d of rows)
    if (d.method !== 'HEAD') t.ok(served.some((r) => r.method === d.method && r.shape === d.shape), `documented ${d.method} ${d.shape} is served`)

  const tokens = { admin: await srv.token('admin'), operator: await srv.token('operator'), ci: await srv.token('ci') }
  const revoked = await srv.container.auth.create('admin', 'revoked')
  await srv.container.auth.revoke(revoked.record.id)
  const expired = await srv.container.auth.create('admin', 'expired', -60)
  const device = await enroll(srv, await enrollmentToken(srv))

  for (const d of rows) {
    const body = d.method === 'POST' || d.method === 'PATCH' ? {} : undefined
    const tus: Record<string, string> = d.shape.startsWith('/v1/uploads') ? { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' } : {}
    const send = (token: string | undefined) => call(srv, token, d.method, d.example, d.shape.startsWith('/v1/uploads') ? undefined : body, tus)
    const label = `${d.method} ${d.example}`
    const expect = async (who: string, res: Awaited<ReturnType<typeof call>>, allowed: boolean, refusedAs: { status: number; code?: string }) => {
      if (allowed) t.notOk([401, 403].includes(res.status), `${who} may ${label} (got ${res.status} ${res.json?.error?.code ?? ''})`)
      else {
        t.equal(res.status, refusedAs.status, `${who} may not ${label}`)
        if (refusedAs.code && d.method !== 'HEAD') t.equal(res.json?.error?.code, refusedAs.code, `${who} on ${label}: ${refusedAs.code}`)
      }
    }
    const isPublic = d.who === 'public'
    for (const role of ['admin', 'operator', 'ci'] as const)
      await expect(role, await send(tokens[role]), isPublic || (d.who as Set<Who>).has(role), { status: 403, code: 'AUTH_FORBIDDEN' })
    const asDevice = await deviceCall(srv, device, d.method, d.example, d.shape.startsWith('/v1/uploads') ? undefined : body, tus)
    await expect('a device', asDevice, isPublic || (d.who as Set<Who>).has('device'), { status: 403, code: 'AUTH_FORBIDDEN' })
    await expect('no one', await send(undefined), isPublic, { status: 401 })
    await expect('a revoked token', await send(revoked.token), isPublic, { status: 401, code: 'AUTH_REVOKED' })
    await expect('an expired token', await send(expired.token), isPublic, { status: 401, code: 'AUTH_EXPIRED' })
  }
  t.equal((await fetch(`${srv.url}/healthz`)).status, 200, 'the server is still up')
})
