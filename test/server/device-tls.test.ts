/**
 * Key proof by TLS, over real TLS on loopback: the server terminates TLS itself
 * (TLS_CERT_FILE, TLS_KEY_FILE; client certificates asked for, not required) and
 * accepts the device certificate it issued; a certificate from another CA and a revoked
 * one are refused; enrollment works without a client certificate. Behind a TLS proxy the
 * verified certificate arrives URL-escaped in X-Client-Cert, believed only from
 * SLIPWAY_TRUSTED_PROXIES.
 */
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { FileDeviceKey } from '../../client-sdk/src/identity/device-key.js'
import { call } from '../helpers/api.js'
import { enroll, enrollmentToken } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'

const dir = await mkdtemp(join(tmpdir(), 'slipway-tls-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
// the server's own certificate, from a test CA; and a foreign "device CA" with a client certificate
openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=test server CA', '-days', '2')
const issue = async (name: string, cn: string, ext: string) => {
  await writeFile(join(dir, `${name}.ext`), `${ext}\n`)
  openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`)
}
await issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1')
await issue('foreign', 'a-device', 'extendedKeyUsage=clientAuth')
const serverCa = await readFile(join(dir, 'ca.pem'))

interface Res {
  status: number
  json: any
}

function request(url: string, o: { method?: string; path: string; cert?: string | Buffer; key?: string | Buffer; body?: unknown }): Promise<Res> {
  const body = o.body === undefined ? undefined : JSON.stringify(o.body)
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(o.path, url),
      { method: o.method ?? 'GET', ca: serverCa, ...(o.cert ? { cert: o.cert, key: o.key } : {}), headers: body ? { 'content-type': 'application/json' } : {}, agent: false },
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (c: Buffer) => parts.push(c))
        res.on('end', () => {
          const text = Buffer.concat(parts).toString()
          resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined })
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

t.test('mTLS with the server terminating TLS', async (t) => {
  const srv = await startServer({ TLS_CERT_FILE: join(dir, 'server.pem'), TLS_KEY_FILE: join(dir, 'server.key') })
  t.teardown(() => srv.close())
  t.match(srv.url, /^https:/)
  const op = await srv.token('operator')
  // the helper enrolls over fetch, which does not trust our test CA: enroll over https here
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  const key = FileDeviceKey.fromPem(keyPem)
  const tokenRes = await request(srv.url, { method: 'POST', path: '/v1/enrollment-tokens', body: { group: 'tls', maxUses: 5, ttlSeconds: 3600 } }).catch(() => undefined)
  t.equal(tokenRes?.status, 401, 'management routes need a token, not a client certificate')
  const token = (await srv.container.enrollment.createToken({ group: 'tls', maxUses: 5, ttlSeconds: 3600, createdBy: 'test' })).token
  const { createCsr } = await import('../../client-sdk/src/identity/csr.js')
  const enrolled = await request(srv.url, { method: 'POST', path: '/v1/device/enroll', body: { enrollmentToken: token, hardwareId: 'pi-tls', hardware: 'rpi5', csr: await createCsr('pi-tls', key) } })
  t.equal(enrolled.status, 201, 'enrollment works without a client certificate')
  const cert = enrolled.json.certificate as string

  const poll = await request(srv.url, { path: '/v1/device/update', cert, key: keyPem })
  t.equal(poll.status, 204, 'the device certificate over TLS proves the device')
  const none = await request(srv.url, { path: '/v1/device/update' })
  t.equal(none.json.error.code, 'DEVICE_AUTH_MISSING')
  const foreign = await request(srv.url, { path: '/v1/device/update', cert: await readFile(join(dir, 'foreign.pem')), key: await readFile(join(dir, 'foreign.key')) })
  t.equal(foreign.status, 401)
  t.equal(foreign.json.error.code, 'DEVICE_CERT_UNTRUSTED', 'a certificate from another CA')

  const revoked = await call({ ...srv, url: srv.url } as any, op, 'GET', '/healthz').catch(() => undefined)
  t.equal(revoked, undefined, 'fetch does not trust the test CA (sanity: we really speak TLS)')
  await srv.container.identity.revokeDeviceCertificates(enrolled.json.deviceId, 'lost', 'token:test')
  const after = await request(srv.url, { path: '/v1/device/update', cert, key: keyPem })
  t.equal(after.status, 401)
  t.equal(after.json.error.code, 'DEVICE_CERT_REVOKED', 'revoked: refused at once')
})

t.test('a certificate forwarded by a TLS proxy: believed from trusted addresses only', async (t) => {
  const trusting = await startServer({ SLIPWAY_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1' })
  t.teardown(() => trusting.close())
  const dev = await enroll(trusting, await enrollmentToken(trusting, 'proxied'), { keyType: 'ecdsa' })
  const header = { 'x-client-cert': encodeURIComponent(dev.certificate) } // nginx $ssl_client_escaped_cert
  const ok = await call(trusting, undefined, 'GET', '/v1/device/update', undefined, header)
  t.equal(ok.status, 204, 'the proxy vouched for the certificate')
  const foreign = await call(trusting, undefined, 'GET', '/v1/device/update', undefined, { 'x-client-cert': encodeURIComponent(await readFile(join(dir, 'foreign.pem'), 'utf8')) })
  t.equal(foreign.json.error.code, 'DEVICE_CERT_UNTRUSTED')

  const other = await startServer({ SLIPWAY_TRUSTED_PROXIES: '10.1.2.3' })
  t.teardown(() => other.close())
  const dev2 = await enroll(other, await enrollmentToken(other, 'direct'))
  const spoofed = await call(other, undefined, 'GET', '/v1/device/update', undefined, { 'x-client-cert': encodeURIComponent(dev2.certificate) })
  t.equal(spoofed.status, 401)
  t.equal(spoofed.json.error.code, 'DEVICE_CERT_FORWARD_UNTRUSTED', 'the header from an address that is not a trusted proxy')
})
