import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { DeviceApi, HttpClient, loadCredential } from '../../../client-sdk/src/index.js'
import { FileDeviceKey } from '../../../client-sdk/src/identity/device-key.js'
import { enroll } from '../../../client-sdk/src/identity/enroll.js'
import { loadTls } from '../../../client-sdk/src/identity/tls.js'
import { serve } from './http-fixtures.js'

async function tmp(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'agent-id-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('enroll stores the credential with mode 0600 and the agent reads it back', async (t) => {
  const bodies: any[] = []
  const srv = await serve((req, res, body) => {
    const b = JSON.parse(body.toString())
    bodies.push(b)
    if (b.enrollmentToken !== 'sle_good') return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"ENROLLMENT_TOKEN_INVALID","message":"no"}}')
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ deviceId: 'd-1', credential: 'sld_secret', group: 'lab', pollIntervalSeconds: 60 }))
  })
  t.teardown(srv.close)
  const http = new HttpClient()
  t.teardown(() => http.close())
  const api = new DeviceApi(new URL(srv.url), http, () => undefined)
  const dir = await tmp(t)
  const path = join(dir, 'credential.json')
  const old = process.umask(0o022)
  t.teardown(() => void process.umask(old))
  const key = FileDeviceKey.generate('ed25519')
  const c = await enroll(api, { enrollmentToken: 'sle_good', hardwareId: 'serial-1', hardware: 'rpi4' }, key, path)
  t.match(bodies[0].csr, /^-----BEGIN CERTIFICATE REQUEST-----/, 'the enrollment carries a CSR for the device key')
  t.equal(c.deviceId, 'd-1')
  t.equal((await stat(path)).mode & 0o777, 0o600)
  t.match(await loadCredential(path), { deviceId: 'd-1', credential: 'sld_secret', hardwareId: 'serial-1', group: 'lab' })
  t.equal(srv.log[0]!.headers['content-type'], 'application/json')
  await t.rejects(enroll(api, { enrollmentToken: 'sle_bad', hardwareId: 'serial-1', hardware: 'rpi4' }, key, path), { code: 'CREDENTIAL_REJECTED' })
  t.match(await loadCredential(path), { credential: 'sld_secret' }, 'a refused re-enroll keeps the old credential')
})

t.test('a credential others can read is refused; a missing one is undefined', async (t) => {
  const dir = await tmp(t)
  const path = join(dir, 'credential.json')
  t.equal(await loadCredential(path), undefined)
  await writeFile(path, JSON.stringify({ deviceId: 'd', credential: 'sld_x' }))
  await chmod(path, 0o644)
  await t.rejects(loadCredential(path), { code: 'CONFIG_INVALID' })
})

t.test('mTLS: cert and key go together; a PKCS#11 key is refused clearly, not ignored', async (t) => {
  await t.rejects(loadTls({ certFile: '/x' }), { code: 'CONFIG_INVALID' })
  await t.rejects(loadTls({ keyPkcs11Uri: 'pkcs11:token=dev;object=key' }), { code: 'CONFIG_INVALID', message: /not supported yet/ })
  await t.rejects(loadTls({ certFile: '/nonexistent.pem', keyFile: '/nonexistent.key' }), { code: 'CONFIG_INVALID' })
})

t.test('a signature refused as replayed is signed again once, with a new nonce; a second refusal is CREDENTIAL_REJECTED', async (t) => {
  let refuse = 1
  const replayed = '{"error":{"code":"DEVICE_SIGNATURE_REPLAYED","message":"this signature (nonce) was already used"}}'
  const srv = await serve((req, res) => {
    if (refuse-- > 0) return void res.writeHead(401, { 'content-type': 'application/json' }).end(replayed)
    if (req.method === 'GET') return void res.writeHead(204).end()
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
  })
  t.teardown(srv.close)
  const http = new HttpClient()
  t.teardown(() => http.close())
  const api = new DeviceApi(new URL(srv.url), http, () => ({ key: FileDeviceKey.generate('ed25519'), serial: '01' }))

  t.same(await api.poll(), { kind: 'none' }, 'the poll answers after one re-signed retry')
  t.equal(srv.log.length, 2, 'two requests: the refused one and its retry')
  t.not(srv.log[0]!.headers['signature-input'], srv.log[1]!.headers['signature-input'], 'the retry carries new signature parameters (a new nonce)')
  t.not(srv.log[0]!.headers.signature, srv.log[1]!.headers.signature, 'and a new signature')

  refuse = 1
  await api.health({ state: 'healthy' } as never)
  t.equal(srv.log.length, 4, 'a POST is re-signed the same way')

  refuse = 2
  await t.rejects(api.poll(), { code: 'CREDENTIAL_REJECTED', details: { status: 401, serverCode: 'DEVICE_SIGNATURE_REPLAYED' } }, 'a second refusal is not retried again')
  t.equal(srv.log.length, 6, 'exactly one retry')

  refuse = 1
  const bearer = new DeviceApi(new URL(srv.url), http, () => ({ bearer: 'sld_x' }))
  await t.rejects(bearer.poll(), { code: 'CREDENTIAL_REJECTED' }, 'a bearer request has no nonce to renew: no retry')
  t.equal(srv.log.length, 7)
})
