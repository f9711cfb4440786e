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
