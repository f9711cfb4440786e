/**
 * Issue 16 §2: every /v1 route that answers JSON declares its success response, so its
 * answer is documented (GET /docs/json) and serialized through the declared view, which
 * drops anything undeclared. A route that answers something else (bytes, PEM, the tus
 * protocol) is named here with what it answers; a new route must do one or the other.
 */
import t from 'tap'
import { call } from '../helpers/api.js'
import { enroll, enrollmentToken } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'

/** Routes that answer no JSON body on success, and what they answer instead. */
const NOT_JSON: Record<string, string> = {
  'GET /v1/blobs/{sha256}': 'blob bytes (Range, RFC 7233)',
  'GET /v1/device-ca/certificate': 'PEM certificate',
  'GET /v1/device-ca/crl': 'PEM CRL',
  'GET /v1/releases/{name}/{version}/sbom': 'SBOM bytes',
  'POST /v1/uploads': 'tus protocol (headers only)',
  'PATCH /v1/uploads/{id}': 'tus protocol (headers only)',
  'HEAD /v1/uploads/{id}': 'tus protocol (headers only)',
  'DELETE /v1/uploads/{id}': 'tus protocol (headers only)',
  'POST /v1/uploads/{id}': 'tus protocol (headers only)',
  'PATCH /v1/uploads': 'tus protocol (headers only)',
  'HEAD /v1/uploads': 'tus protocol (headers only)',
  'DELETE /v1/uploads': 'tus protocol (headers only)',
}

type Doc = { paths: Record<string, Record<string, { responses?: Record<string, { content?: unknown }> }>> }

/**
 * A route declares a success response when a 2xx has a body schema, or is a declared
 * 204 (or other no-body 2xx). @fastify/swagger writes `200: Default Response` without
 * content for a route that declares no response at all: that one does not count.
 */
const declaresSuccess = (responses: Record<string, { content?: unknown }> = {}) =>
  Object.entries(responses).some(([status, r]) => /^2\d\d$/.test(status) && (r.content !== undefined || status !== '200'))

t.test('every /v1 JSON route declares its success response', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const doc = (await (await fetch(`${srv.url}/docs/json`)).json()) as Doc
  const routes: Array<{ route: string; declared: boolean }> = []
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(ops))
      if (path.startsWith('/v1/') && method !== 'options')
        routes.push({ route: `${method.toUpperCase()} ${path}`, declared: declaresSuccess(op.responses) })
  t.ok(routes.length > 40, `the OpenAPI document lists the routes (${routes.length})`)
  for (const { route, declared } of routes) {
    if (route in NOT_JSON) continue
    t.ok(declared, `${route} declares a 2xx response (or is listed in NOT_JSON with what it answers)`)
  }
  for (const route of Object.keys(NOT_JSON)) t.ok(routes.some((r) => r.route === route), `${route} (listed as not JSON) is served`)
  const json = routes.filter((r) => !(r.route in NOT_JSON))
  t.comment(`JSON routes: ${json.length}; declaring a success response: ${json.filter((r) => r.declared).length}`)
})

t.test('declared views keep secrets out without any code that removes them', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const issued = await call(srv, op, 'POST', '/v1/enrollment-tokens', { group: 'lab', maxUses: 2, ttlSeconds: 3600 })
  t.equal(issued.status, 201)
  t.match(issued.json, { token: String, id: String, group: 'lab', maxUses: 2, uses: 0 }, 'the secret once, with the record')
  t.notOk('tokenHash' in issued.json, 'never the hash')
  const tokens = await call(srv, op, 'GET', '/v1/enrollment-tokens')
  t.notOk('tokenHash' in tokens.json.tokens[0])
  t.notOk('token' in tokens.json.tokens[0], 'the secret is not listed')

  const dev = await enroll(srv, await enrollmentToken(srv, 'lab'), { hardwareId: 'hw-views' })
  const shown = await call(srv, op, 'GET', `/v1/devices/${dev.deviceId}`)
  t.equal(shown.status, 200)
  t.notOk('credentialHash' in shown.json)
  t.match(shown.json, { id: dev.deviceId, hardwareId: 'hw-views', rollouts: [], securityEvents: [], integrity: [], inventory: null })
  const certs = await call(srv, op, 'GET', `/v1/devices/${dev.deviceId}/certificates`)
  t.match(certs.json.certificates, [{ serial: dev.serial, state: 'active' }])
  t.notOk('publicKey' in certs.json.certificates[0], 'no key material')
  t.notOk('certificate' in certs.json.certificates[0])
})
