/**
 * The authentication hooks of server/http/auth.ts, alone, over fake requests and fake
 * services: which header is a bearer token, when a device's proof is refused on a token
 * route (and with what), which path requireRoleOrDevice takes, what deviceRequestOf
 * hands the device decision. The route × role matrix (route-roles.test.ts) covers the
 * same hooks through a real server, a few hundred requests at a time; this file is the
 * fast one mutation testing runs first (npm run mutate -- --area http).
 */
import type { FastifyRequest } from 'fastify'
import t from 'tap'
import type { AuthService } from '../../server/domain/auth/auth-service.js'
import { SlipwayError } from '../../server/domain/errors.js'
import type { DeviceAuthService, DeviceRequest } from '../../server/domain/trust/device-auth-service.js'
import type { DevicePrincipal, Principal, PrincipalRole } from '../../server/domain/model.js'
import {
  ALL_ROLES,
  bearer,
  deviceOf,
  devicePrincipalOf,
  deviceRequestOf,
  OPERATORS,
  principalOf,
  requireDevice,
  requireRole,
  requireRoleOrDevice,
  WATCHERS,
} from '../../server/http/auth.js'

interface FakeRequestInit {
  headers?: Record<string, string | string[] | undefined>
  method?: string
  url?: string
  rawUrl?: string
  rawBody?: Buffer
  socket?: Record<string, unknown>
}

function request(r: FakeRequestInit = {}): FastifyRequest {
  return {
    headers: r.headers ?? {},
    method: r.method ?? 'GET',
    url: r.url ?? '/v1/x',
    raw: { url: r.rawUrl, socket: r.socket ?? { encrypted: false, remoteAddress: '192.0.2.7' } },
    ...(r.rawBody ? { rawBody: r.rawBody } : {}),
  } as unknown as FastifyRequest
}

const operator: Principal = { kind: 'token', tokenId: 'tok-1', role: 'operator' }
const device = { kind: 'device', deviceId: 'dev-1', role: 'device' } as unknown as DevicePrincipal

/** An AuthService that knows one token ("good", an operator) and records what it was asked. */
function fakeAuth() {
  const calls: string[] = []
  const auth = {
    async authenticate(token: string | undefined) {
      calls.push(`authenticate ${token}`)
      if (token !== 'good') throw new SlipwayError('unauthenticated', 'AUTH_INVALID', 'the API token is not valid')
      return operator
    },
    authorize(p: Principal, roles: readonly PrincipalRole[]) {
      calls.push(`authorize ${p.role} ${roles.join(',')}`)
      if (!roles.includes(p.role)) throw new SlipwayError('forbidden', 'AUTH_FORBIDDEN', 'no')
    },
  }
  return { auth: auth as unknown as AuthService, calls }
}

function fakeDeviceAuth() {
  const calls: Array<{ req: DeviceRequest; opts: unknown }> = []
  const deviceAuth = {
    async authenticate(req: DeviceRequest, opts?: unknown) {
      calls.push({ req, opts })
      return device
    },
  }
  return { deviceAuth: deviceAuth as unknown as DeviceAuthService, calls }
}

const failure = async (p: Promise<unknown>) => {
  try {
    await p
    return { code: 'no error' }
  } catch (e) {
    const err = e as SlipwayError
    return { code: err.code, kind: err.kind, message: err.message, details: err.details }
  }
}

t.test('bearer: the token of an Authorization: Bearer header', async (t) => {
  const of = (authorization?: string) => bearer(request({ headers: { authorization } }))
  t.equal(of(undefined), undefined, 'no header: no token')
  t.equal(of(''), undefined, 'an empty header is no header')
  t.equal(of('Bearer abc'), 'abc')
  t.equal(of('bearer abc'), 'abc', 'the scheme is case-insensitive')
  t.equal(of('Bearer    abc  '), 'abc', 'spaces around the token')
  t.equal(of('Bearer\tabc'), 'abc', 'a tab is a space')
  t.equal(of('Basic abc'), '', 'another scheme: a header that is no token')
  t.equal(of('Bearer'), '', 'no token after the scheme')
  t.equal(of('Bearerabc'), '', 'the scheme needs a space after it')
  t.equal(of('Bearer a b'), '', 'two words')
  t.equal(of('xBearer abc'), '', 'junk before the scheme')
})

t.test('the role lists', async (t) => {
  t.same(ALL_ROLES, ['admin', 'ci', 'operator', 'viewer'])
  t.same(OPERATORS, ['operator', 'admin'])
  t.same(WATCHERS, ['operator', 'admin', 'viewer'])
})

t.test('requireRole: authenticates the token, checks its role, remembers the principal', async (t) => {
  const { auth, calls } = fakeAuth()
  const ok = request({ headers: { authorization: 'Bearer good' } })
  await requireRole(auth, ['operator', 'admin'])(ok)
  t.same(calls, ['authenticate good', 'authorize operator operator,admin'])
  t.equal(principalOf(ok), operator)

  const wrongRole = request({ headers: { authorization: 'Bearer good' } })
  t.match(await failure(requireRole(auth, ['admin'])(wrongRole)), { code: 'AUTH_FORBIDDEN' })
  t.equal(wrongRole.principal, undefined, 'a refused principal is not kept')

  const none = request()
  t.match(await failure(requireRole(auth, ['admin'])(none)), { code: 'AUTH_INVALID' }, 'no header: the service decides (401)')
  t.same(calls.slice(-1), ['authenticate undefined'])
})

t.test('requireRole: a device proving itself is refused as a device, before any token lookup', async (t) => {
  const proofs: Array<[string, FakeRequestInit]> = [
    ['a message signature', { headers: { 'signature-input': 'sig1=()', signature: 'sig1=::' } }],
    ['only Signature-Input', { headers: { 'signature-input': 'sig1=()' } }],
    ['only Signature', { headers: { signature: 'sig1=::' } }],
    ['a forwarded certificate', { headers: { 'x-client-cert': 'PEM' } }],
  ]
  for (const [what, init] of proofs) {
    const { auth, calls } = fakeAuth()
    const r = request(init)
    t.same(await failure(requireRole(auth, ['operator', 'admin'])(r)), {
      code: 'AUTH_FORBIDDEN',
      kind: 'forbidden',
      message: 'a device key does not open this route: it needs one of the roles operator, admin',
      details: { role: 'device' },
    }, what)
    t.same(calls, [], `${what}: no token was looked up`)
  }
  const { auth, calls } = fakeAuth()
  const both = request({ headers: { authorization: 'Bearer good', signature: 'sig1=::' } })
  await requireRole(auth, ['operator'])(both)
  t.equal(both.principal, operator, 'a bearer token wins over a signature header: the token decides')
  t.same(calls, ['authenticate good', 'authorize operator operator'])
  const dc = fakeAuth()
  t.match(await failure(requireRole(dc.auth, ['operator'])(request({ headers: { authorization: 'Bearer sld_abc' } }))), { code: 'AUTH_INVALID' }, 'a device credential as a bearer token is a token (to the service)')
})

t.test('requireRoleOrDevice: an API token takes the token path, anything else the device path', async (t) => {
  const api = fakeAuth()
  const dev = fakeDeviceAuth()
  const hook = requireRoleOrDevice(api.auth, dev.deviceAuth, ['admin', 'operator'])
  const withToken = request({ headers: { authorization: 'Bearer good' } })
  await hook(withToken)
  t.equal(withToken.principal, operator)
  t.same(api.calls, ['authenticate good', 'authorize operator admin,operator'])
  t.equal(dev.calls.length, 0, 'the device decision is not asked')

  t.match(await failure(requireRoleOrDevice(api.auth, dev.deviceAuth, ['admin'])(request({ headers: { authorization: 'Bearer good' } }))), { code: 'AUTH_FORBIDDEN' }, 'the token path checks the role')

  for (const [what, headers] of [
    ['a device credential', { authorization: 'Bearer sld_abc' }],
    ['no token', {}],
    ['an empty bearer', { authorization: 'Basic x' }],
  ] as const) {
    const d = fakeDeviceAuth()
    const a = fakeAuth()
    const r = request({ headers })
    await requireRoleOrDevice(a.auth, d.deviceAuth, ['admin'])(r)
    t.equal(r.principal, device, `${what}: the device path`)
    t.equal(d.calls.length, 1)
    t.same(a.calls, [], `${what}: no token lookup`)
  }
})

t.test('requireDevice: hands the request and the options to the one device decision', async (t) => {
  const d = fakeDeviceAuth()
  const r = request({ headers: { authorization: 'Bearer sld_x' } })
  await requireDevice(d.deviceAuth, { allowPending: true })(r)
  t.equal(r.principal, device)
  t.same(d.calls[0]?.opts, { allowPending: true })
  t.equal(deviceOf(r), 'dev-1')
  t.equal(devicePrincipalOf(r), device)
  const d2 = fakeDeviceAuth()
  await requireDevice(d2.deviceAuth)(request())
  t.same(d2.calls[0]?.opts, {}, 'no options: none')
})

t.test('principalOf and devicePrincipalOf refuse a route wired without its hook', async (t) => {
  t.throws(() => principalOf(request()), { message: 'route is missing its requireRole hook' })
  const r = request()
  r.principal = operator
  t.throws(() => devicePrincipalOf(r), { message: 'route expects a device principal' })
  t.throws(() => deviceOf(r), { message: 'route expects a device principal' })
})

t.test('deviceRequestOf: what the device decision sees of an HTTP request', async (t) => {
  const body = Buffer.from('{}')
  const plain = deviceRequestOf(
    request({
      method: 'POST',
      url: '/v1/device/events',
      rawUrl: '/v1/device/events?x=1',
      rawBody: body,
      headers: {
        authorization: 'Bearer sld_a',
        'signature-input': ['sig1=()', 'sig2=()'],
        signature: 'sig1=:a:',
        'content-digest': 'sha-256=:b:',
        'x-client-cert': 'PEM%0A',
      },
    }),
  )
  t.same(plain, {
    method: 'POST',
    target: '/v1/device/events?x=1',
    headers: { authorization: 'Bearer sld_a', signatureInput: 'sig1=(), sig2=()', signature: 'sig1=:a:', contentDigest: 'sha-256=:b:', forwardedCert: 'PEM%0A' },
    body,
    tlsClientCertificate: undefined,
    peer: '192.0.2.7',
  }, 'the target as received (query too); repeated headers joined with ", "')
  t.notOk('body' in deviceRequestOf(request()), 'no raw body: no body field')
  t.equal(deviceRequestOf(request({ url: '/v1/a' })).target, '/v1/a', 'without a raw url: the parsed one')

  const tls = (socket: Record<string, unknown>) => deviceRequestOf(request({ socket })).tlsClientCertificate
  const cert = { toString: () => 'CLIENT PEM' }
  t.equal(tls({ encrypted: true, getPeerX509Certificate: () => cert }), 'CLIENT PEM', 'mTLS: the presented certificate')
  t.equal(tls({ encrypted: true, getPeerX509Certificate: () => undefined }), undefined, 'TLS without a client certificate')
  t.equal(tls({ encrypted: false, getPeerX509Certificate: () => cert }), undefined, 'plain HTTP')
  t.equal(tls({ encrypted: true }), undefined, 'a socket that cannot say')
})
