/**
 * Issue 3 on the release push, over real HTTP: the server refuses release
 * metadata that is missing, signed by a key the root does not trust, below the
 * release threshold, tampered, by a revoked CI key, or for another artifact; it
 * accepts a properly signed push and keeps the signed envelope.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { addReleaseKey, canonicalWire, changeThresholds, FileKeySigner, revokeReleaseKey, rotateRoot, verify } from '../../signing/index.js'
import { call, releaseBody, sha256, tusUpload } from '../helpers/api.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { devReleaseKey, signReleaseFor, type PushFields } from '../helpers/trust.js'

let srv: TestServer
let ci: string
t.before(async () => {
  srv = await startServer()
  ci = await srv.token('ci')
})
t.teardown(() => srv.close())

const rootKey = () => FileKeySigner.load(join(srv.config.keys.dir, 'root.pem'))

/** Publish root N+1 on the running server, signed by the dev root key. */
async function publish(change: Parameters<typeof rotateRoot>[1]): Promise<number> {
  const { bytes } = await srv.container.trust.document('latest')
  const next = await rotateRoot(bytes, change, [await rootKey()])
  return (await srv.container.trust.install(next)).version
}

/** Upload `data` and push it with `mutate` applied to the signed body. */
async function push(data: Buffer, name: string, mutate: (body: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown> = (b) => b) {
  const id = await tusUpload(srv, ci, data)
  return call(srv, ci, 'POST', '/v1/releases', await mutate(await releaseBody(srv, id, data, { name })))
}

async function refused(t: Test, res: Awaited<ReturnType<typeof push>>, status: number, code: string, name: string, data: Buffer) {
  t.equal(res.status, status, `${code}: status`)
  t.equal(res.json?.error?.code, code)
  t.equal((await call(srv, ci, 'GET', `/v1/releases?name=${name}`)).json.releases.length, 0, 'no release')
  t.equal(await srv.container.blobs.stat(sha256(data)), undefined, 'no blob')
}

t.test('a push without release metadata is refused', async (t) => {
  const data = randomBytes(5000)
  const res = await push(data, 'unsigned', ({ metadata: _, ...rest }) => rest)
  await refused(t, res, 400, 'RELEASE_METADATA_REQUIRED', 'unsigned', data)
})

t.test('metadata signed by a key the root does not list is refused', async (t) => {
  const data = randomBytes(5000)
  const stranger = FileKeySigner.generate('ed25519')
  const res = await push(data, 'stranger', async (b) => ({ ...b, metadata: await signReleaseFor(srv, b as unknown as PushFields, [stranger]) }))
  await refused(t, res, 422, 'SIGNATURE_UNKNOWN_KEY', 'stranger', data)
})

t.test('tampered metadata (a signed field changed after signing) is refused', async (t) => {
  const data = randomBytes(5000)
  const res = await push(data, 'tampered', (b) => {
    const m = structuredClone(b.metadata) as { signed: { targets: Record<string, { custom: { securityVersion: number } }> } }
    for (const target of Object.values(m.signed.targets)) target.custom.securityVersion = 99
    return { ...b, securityVersion: 99, metadata: m }
  })
  await refused(t, res, 422, 'SIGNATURE_INVALID', 'tampered', data)
})

t.test('metadata that is not a signed envelope, or not canonical, is refused with its code', async (t) => {
  const data = randomBytes(5000)
  const notEnvelope = await push(data, 'garbage', (b) => ({ ...b, metadata: 'signed by me, trust me' }))
  await refused(t, notEnvelope, 422, 'DOC_MALFORMED', 'garbage', data)
  const float = await push(data, 'garbage', (b) => ({ ...b, metadata: { ...(b.metadata as object), extra: 1.5 } }))
  await refused(t, float, 422, 'DOC_NOT_CANONICAL', 'garbage', data)
})

t.test('metadata for another artifact (sha256) or other fields is refused', async (t) => {
  const data = randomBytes(5000)
  const other = randomBytes(5000)
  const res = await push(data, 'swapped', async (b) => ({ ...b, metadata: await signReleaseFor(srv, { ...(b as unknown as PushFields), sha256: sha256(other) }) }))
  await refused(t, res, 422, 'RELEASE_METADATA_MISMATCH', 'swapped', data)
  t.same(res.json.error.details.fields, ['sha256'])
  t.equal(res.json.error.details.signed.sha256, sha256(other))
  const hw = await push(data, 'swapped', async (b) => ({ ...b, metadata: await signReleaseFor(srv, { ...(b as unknown as PushFields), hardware: ['rpi4'], securityVersion: 0 }) }))
  await refused(t, hw, 422, 'RELEASE_METADATA_MISMATCH', 'swapped', data)
  t.same(hw.json.error.details.fields, ['hardware', 'securityVersion'])
})

t.test('a properly signed push is accepted and keeps its signed envelope', async (t) => {
  const data = randomBytes(5000)
  const res = await push(data, 'signed')
  t.equal(res.status, 201)
  t.equal(res.json.sha256, sha256(data))
  t.same(res.json.provenance, { sourceRevision: 'test-revision', builder: 'slipway-tests', sbomDigest: `sha256:${'0'.repeat(64)}` }, 'provenance as CI signed it')
  // a device can verify what the server stored against the root chain the server serves
  const chain = await srv.container.trust.chain()
  const trust = verify.TrustedRoot.walk(chain[0]!, chain.slice(1))
  const { release, keyIds } = verify.verifyRelease(trust, Buffer.from(canonicalWire(res.json.metadata)))
  t.equal(release.sha256, sha256(data))
  t.same(keyIds, [(await devReleaseKey(srv)).keyId])
})

t.test('threshold not met, then a revoked CI key, after root rotations', async (t) => {
  const dev = await devReleaseKey(srv)
  const ci2 = FileKeySigner.generate('ecdsa')
  t.equal(await publish({ ...addReleaseKey(ci2.publicKey), ...changeThresholds({ release: 2 }) }), 2)
  const data = randomBytes(5000)
  const one = await push(data, 'two-keys')
  await refused(t, one, 422, 'THRESHOLD_NOT_MET', 'two-keys', data)
  t.match(one.json.error.details, { role: 'release', valid: 1, threshold: 2 })
  const both = await push(data, 'two-keys', async (b) => ({ ...b, metadata: await signReleaseFor(srv, b as unknown as PushFields, [dev, ci2]) }))
  t.equal(both.status, 201, 'two distinct release keys meet threshold 2')

  t.equal(await publish({ ...revokeReleaseKey(dev.keyId), ...changeThresholds({ release: 1 }) }), 3)
  const data2 = randomBytes(5000)
  const revoked = await push(data2, 'after-revoke')
  await refused(t, revoked, 422, 'SIGNATURE_REVOKED_KEY', 'after-revoke', data2)
  const fresh = await push(data2, 'after-revoke', async (b) => ({ ...b, metadata: await signReleaseFor(srv, b as unknown as PushFields, [ci2]) }))
  t.equal(fresh.status, 201, 'the new CI key alone is enough again')
})
