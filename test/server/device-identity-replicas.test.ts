/**
 * Two replicas on PostgreSQL + Redis with a shared keys folder: one device CA for both;
 * a signature accepted by one replica is a replay on the other (the nonce store is
 * Redis); a revocation made through one replica is refused by the other within one
 * second (the certificate row is read on every request).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { signRequest } from '../../client-sdk/src/identity/request-signer.js'
import { call } from '../helpers/api.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken } from '../helpers/fleet.js'
import { scaleOutEnv } from '../helpers/scale-out.js'
import { startServer } from '../helpers/server.js'

t.test('revocation and replay protection hold across replicas', async (t) => {
  const keys = await mkdtemp(join(tmpdir(), 'slipway-identity-keys-'))
  t.teardown(() => rm(keys, { recursive: true, force: true }))
  const env = { ...(await scaleOutEnv(t)), SLIPWAY_KEYS_DIR: join(keys, 'keys') }
  const a = await startServer(env)
  t.teardown(() => a.close())
  const b = await startServer(env)
  t.teardown(() => b.close())
  t.equal(a.container.identity.caCertificate, b.container.identity.caCertificate, 'one device CA')

  const dev = await enroll(a, await enrollmentToken(a, 'replicas'), { keyType: 'ecdsa' })
  t.equal((await deviceCall(b, dev, 'GET', '/v1/device/update')).status, 204, 'enrolled on A, recognised by B')

  const once = await signRequest(dev.key, dev.serial, { method: 'GET', target: '/v1/device/update' })
  t.equal((await call(a, undefined, 'GET', '/v1/device/update', undefined, once)).status, 204)
  const replay = await call(b, undefined, 'GET', '/v1/device/update', undefined, once)
  t.equal(replay.status, 401)
  t.equal(replay.json.error.code, 'DEVICE_SIGNATURE_REPLAYED', 'a signature used on A is refused on B')

  const op = await a.token('operator')
  t.equal((await call(a, op, 'POST', `/v1/devices/${dev.deviceId}/revoke`, { reason: 'stolen' })).status, 200)
  const revokedAt = Date.now()
  let refused: { status: number; json: any }
  for (;;) {
    refused = await deviceCall(b, dev, 'GET', '/v1/device/update')
    if (refused.status === 401 || Date.now() - revokedAt > 1000) break
  }
  t.equal(refused.status, 401, 'B refuses within one second')
  t.equal(refused.json.error.code, 'DEVICE_CERT_REVOKED')
  t.equal((await deviceCall(a, dev, 'GET', '/v1/device/update')).json.error.code, 'DEVICE_CERT_REVOKED', 'and A too')
  const crlA = (await call(a, undefined, 'GET', '/v1/device-ca/crl')).raw.toString()
  const crlB = (await call(b, undefined, 'GET', '/v1/device-ca/crl')).raw.toString()
  const { parseRevocationList } = await import('../../signing/certs/index.js')
  for (const crl of [crlA, crlB]) t.ok(parseRevocationList(crl, a.container.identity.caCertificate).serials.has(dev.serial), 'both CRLs list it')
})
