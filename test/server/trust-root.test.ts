/**
 * The root chain: GET /v1/trust/root/{version}.json serves the stored canonical
 * bytes verbatim and without a token; installing a root version is checked the way
 * a device checks it (old and new thresholds, N+1, not expired).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { addReleaseKey, changeRootKeys, createRoot, FileKeySigner, rotateRoot, verify } from '../../signing/index.js'
import { call } from '../helpers/api.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
t.before(async () => {
  srv = await startServer()
})
t.teardown(() => srv.close())

const rootKey = () => FileKeySigner.load(join(srv.config.keys.dir, 'root.pem'))

t.test('the first start created a dev root v1 with 0600 key files', async (t) => {
  const { stat } = await import('node:fs/promises')
  for (const f of ['root.pem', 'release.pem', 'online.pem']) t.equal((await stat(join(srv.config.keys.dir, f))).mode & 0o777, 0o600, `${f} is 0600`)
  t.equal((await stat(srv.config.keys.dir)).mode & 0o777, 0o700, 'keys folder is 0700')
  const trust = await srv.container.trust.current()
  t.equal(trust.version, 1)
  t.ok(trust.role('online').keys.has(srv.container.onlineSigner.keyId), 'the online key is in the root')
  t.equal(srv.container.onlineSigner.keyKind, 'file')
})

t.test('GET /v1/trust/root/{version}.json serves the exact stored bytes, unauthenticated', async (t) => {
  const v1 = await call(srv, undefined, 'GET', '/v1/trust/root/1.json')
  t.equal(v1.status, 200)
  t.match(v1.headers.get('content-type'), /^application\/json/)
  t.ok(v1.raw.equals(await readFile(join(srv.config.keys.dir, '1.root.json'))), 'byte for byte what was signed')
  t.equal(verify.TrustedRoot.walk(v1.raw, []).version, 1, 'a device accepts it as served')
  t.match(v1.headers.get('cache-control'), /immutable/)

  const next = await rotateRoot(v1.raw, addReleaseKey(FileKeySigner.generate('ecdsa').publicKey), [await rootKey()])
  t.same(await srv.container.trust.install(next), { version: 2, created: true })
  const v2 = await call(srv, undefined, 'GET', '/v1/trust/root/2.json')
  t.ok(v2.raw.equals(next))
  const latest = await call(srv, undefined, 'GET', '/v1/trust/root/latest.json')
  t.ok(latest.raw.equals(next), 'latest is the newest version')
  t.equal(latest.headers.get('x-slipway-root-version'), '2')
  t.equal(latest.headers.get('cache-control'), 'no-cache')
  t.equal(verify.TrustedRoot.walk(v1.raw, [v2.raw]).version, 2, 'a device walks 1 → 2 from what is served')

  const missing = await call(srv, undefined, 'GET', '/v1/trust/root/9.json')
  t.equal(missing.status, 404)
  t.equal(missing.json.error.code, 'ROOT_NOT_FOUND')
  for (const bad of ['0.json', 'abc.json', '1', '01.json']) {
    const res = await call(srv, undefined, 'GET', `/v1/trust/root/${bad}`)
    t.equal(res.status, 400, bad)
    t.equal(res.json.error.code, 'VALIDATION_FAILED', bad)
  }
})

t.test('install: idempotent, refuses skipped versions, new-keys-only and unrelated roots', async (t) => {
  const { bytes: current } = await srv.container.trust.document('latest')
  t.same(await srv.container.trust.install(current), { version: 2, created: false }, 'installing the same root again is a no-op')

  const v3 = await rotateRoot(current, addReleaseKey(FileKeySigner.generate('ed25519').publicKey), [await rootKey()])
  const v4 = await rotateRoot(v3, addReleaseKey(FileKeySigner.generate('ed25519').publicKey), [await rootKey()])
  await t.rejects(srv.container.trust.install(v4), { code: 'ROOT_VERSION_NOT_CONSECUTIVE' }, 'v4 before v3')

  const usurper = FileKeySigner.generate('ed25519')
  const rogue = await rotateRoot(current, changeRootKeys([usurper.publicKey], [(await rootKey()).keyId]), [await rootKey(), usurper])
  // honest v3 built with both, then re-signed by the new key only
  const { decodeEnvelope, encodeEnvelope } = await import('../../signing/index.js')
  const env = JSON.parse(rogue.toString()) as { signed: unknown; signatures: { keyid: string; sig: string }[] }
  const onlyNew = encodeEnvelope({ signed: env.signed, signatures: env.signatures.filter((s) => s.keyid === usurper.keyId) })
  t.ok(decodeEnvelope(onlyNew, 1 << 20))
  await t.rejects(srv.container.trust.install(onlyNew), { code: 'ROOT_NOT_SIGNED_BY_PREVIOUS' }, 'a rotation signed only by the new keys')

  const stranger = FileKeySigner.generate('ed25519')
  const other = await createRoot({ roles: { root: { keys: [stranger.publicKey], threshold: 1 }, release: { keys: [stranger.publicKey], threshold: 1 }, online: { keys: [stranger.publicKey], threshold: 1 } } }, [stranger])
  await t.rejects(srv.container.trust.install(other), { code: 'ROOT_NOT_SIGNED_BY_PREVIOUS' }, 'another v1 cannot replace the chain')
  t.equal(await srv.container.trust.latestVersion(), 2, 'nothing was installed')

  t.same(await srv.container.trust.install(v3), { version: 3, created: true })
  t.equal((await call(srv, undefined, 'GET', '/v1/trust/root/3.json')).status, 200)
})
