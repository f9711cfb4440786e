/**
 * Provenance policy (issue 12 §5) and refusal at tus creation (issue 17), over real
 * HTTP on SQLite and PostgreSQL: the policy is set (audited) and read, a push lacking a
 * required signed field is refused with PROVENANCE_REQUIRED at the preflight, at the tus
 * creation request (a raw tus client, before its first byte) and at the bind; an SBOM is
 * stored as a blob and read through its release; devices are found by source revision.
 */
import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import t, { type Test } from 'tap'
import * as tus from 'tus-js-client'
import { call, releaseBody, sha256, tusUpload } from '../helpers/api.js'
import { enroll, enrollmentToken } from '../helpers/fleet.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { signReleaseFor, type PushFields } from '../helpers/trust.js'

const fields = (data: Buffer, over: Partial<PushFields> = {}): PushFields => ({
  name: 'rootfs',
  version: '1.0.0',
  kind: 'os-image',
  hardware: ['rpi5'],
  sha256: sha256(data),
  length: data.length,
  securityVersion: 1,
  ...over,
})

/** A raw tus creation request (what any tus client sends) carrying the signed metadata. */
async function tusCreate(srv: TestServer, token: string, length: number, envelope: unknown) {
  const meta = `filename ${Buffer.from('image').toString('base64')},release ${Buffer.from(JSON.stringify(envelope)).toString('base64')}`
  const res = await fetch(`${srv.url}/v1/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', 'upload-length': String(length), 'upload-metadata': meta },
  })
  return { status: res.status, location: res.headers.get('location'), json: (await res.json().catch(() => undefined)) as any }
}

async function staged(srv: TestServer): Promise<number> {
  return (await readdir(srv.config.uploadDir).catch(() => [])).length
}

async function suite(t: Test, srv: TestServer): Promise<void> {
  const [op, ci, viewer] = [await srv.token('operator'), await srv.token('ci'), await srv.token('viewer')]

  // ---- the policy: read by anyone, set by operators, audited
  t.same((await call(srv, viewer, 'GET', '/v1/releases/rootfs/policy')).json, { name: 'rootfs', require: [], updatedBy: null, updatedAt: null }, 'no policy requires nothing')
  t.equal((await call(srv, ci, 'PUT', '/v1/releases/rootfs/policy', { require: ['builder'] })).json?.error?.code, 'AUTH_FORBIDDEN', 'CI cannot lower the bar it must meet')
  t.equal((await call(srv, op, 'PUT', '/v1/releases/rootfs/policy', { require: ['commit'] })).json?.error?.code, 'VALIDATION_FAILED', 'an unknown field')
  t.equal((await call(srv, op, 'PUT', '/v1/releases/Root..fs/policy', { require: [] })).json?.error?.code, 'RELEASE_NAME_INVALID')
  const set = await call(srv, op, 'PUT', '/v1/releases/rootfs/policy', { require: ['builder', 'sourceRevision'], reason: 'SLSA' })
  t.equal(set.status, 200)
  t.same(set.json.require, ['sourceRevision', 'builder'], 'fields in their canonical order')
  t.same((await call(srv, viewer, 'GET', '/v1/releases/rootfs/policy')).json.require, ['sourceRevision', 'builder'])
  const audit = await call(srv, op, 'GET', '/v1/audit?subject=release-policy:rootfs')
  t.equal(audit.json.entries.length, 1)
  t.match(audit.json.entries[0], { action: 'release-policy.set', reason: 'SLSA', before: null, after: { require: ['sourceRevision', 'builder'] } }, 'the change is in the audit log')

  // ---- preflight: declared provenance before signing; signed provenance after
  const data = randomBytes(64 * 1024)
  const f = fields(data)
  const { sha256: _s, ...declared } = f
  const before = await call(srv, ci, 'POST', '/v1/releases/preflight', { ...declared, keyIds: [(await signReleaseFor(srv, f) as any).signatures[0].keyid], provenance: { builder: 'ci' } })
  t.equal(before.status, 422)
  t.match(before.json.error, { code: 'PROVENANCE_REQUIRED', details: { missing: ['sourceRevision'] } }, 'before hashing: the declared fields')
  const unspecified = await signReleaseFor(srv, { ...f, provenance: { sourceRevision: 'unspecified', builder: 'ci' } })
  const signedPre = await call(srv, ci, 'POST', '/v1/releases/preflight', { ...f, metadata: unspecified })
  t.match(signedPre.json?.error, { code: 'PROVENANCE_REQUIRED', details: { missing: ['sourceRevision'], required: ['sourceRevision', 'builder'] } }, '"unspecified" is missing')

  // ---- tus creation: a raw client is refused before its first byte
  const raw = await tusCreate(srv, ci, data.length, unspecified)
  t.equal(raw.status, 422)
  t.equal(raw.json?.error?.code, 'PROVENANCE_REQUIRED', 'the standard error body at tus creation')
  t.equal(raw.location, null, 'no upload was created')
  const stranger = await call(srv, ci, 'POST', '/v1/releases/preflight', { ...f, version: '1.1' })
  t.equal(stranger.json?.error?.code, 'RELEASE_VERSION_INVALID')
  const badVersion = await tusCreate(srv, ci, data.length, await signReleaseFor(srv, { ...f, version: '1.1' }))
  t.same([badVersion.status, badVersion.json?.error?.code], [400, 'RELEASE_VERSION_INVALID'], 'an invalid version, at creation')
  const wrongLength = await tusCreate(srv, ci, data.length + 1, await signReleaseFor(srv, { ...f, provenance: { sourceRevision: 'abc123', builder: 'ci' } }))
  t.same([wrongLength.status, wrongLength.json?.error?.code], [422, 'LENGTH_MISMATCH'], 'an upload length other than the signed one')
  const notJson = await tusCreate(srv, ci, data.length, 'not an envelope')
  t.same([notJson.status, notJson.json?.error?.code], [422, 'DOC_MALFORMED'])
  const viaClient = await new Promise<any>((resolve) => {
    const u = new tus.Upload(data, {
      endpoint: `${srv.url}/v1/uploads`,
      headers: { authorization: `Bearer ${ci}` },
      metadata: { release: JSON.stringify(unspecified) },
      retryDelays: [],
      onError: (e) => resolve(e),
      onSuccess: () => resolve(undefined),
      onProgress: (sent) => resolve(new Error(`sent ${sent} bytes`)),
    })
    u.start()
  })
  const res = (viaClient as { originalResponse?: { getStatus(): number; getBody(): string } }).originalResponse
  t.equal(res?.getStatus(), 422, `tus-js-client is refused at creation: ${viaClient}`)
  t.equal(JSON.parse(res?.getBody() ?? '{}').error?.code, 'PROVENANCE_REQUIRED')
  t.equal(await staged(srv), 0, 'nothing was staged by any refusal')

  // ---- the bind checks what CI signed, and a refused bind keeps no bytes
  const uploadId = await tusUpload(srv, ci, data)
  const bind = await call(srv, ci, 'POST', '/v1/releases', { ...f, uploadId, metadata: unspecified })
  t.match(bind.json?.error, { code: 'PROVENANCE_REQUIRED', details: { missing: ['sourceRevision'] } })
  const head = await fetch(`${srv.url}/v1/uploads/${uploadId}`, { method: 'HEAD', headers: { authorization: `Bearer ${ci}`, 'tus-resumable': '1.0.0' } })
  t.equal(head.status, 404, 'the refused upload is gone')

  // ---- with the fields, and an SBOM pushed as a blob
  const sbom = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'rootfs', packages: [] }, null, 2))
  const stored = await call(srv, ci, 'POST', '/v1/sboms', sbom.toString('utf8'), { 'content-type': 'application/json' })
  t.equal(stored.status, 201)
  t.same(stored.json, { sha256: sha256(sbom), length: sbom.length, sbomDigest: `sha256:${sha256(sbom)}` }, 'stored byte for byte, JSON or not')
  t.equal((await call(srv, ci, 'POST', '/v1/sboms', undefined)).json?.error?.code, 'SBOM_EMPTY')
  const good = { ...f, provenance: { sourceRevision: 'abc123', builder: 'ci', sbomDigest: stored.json.sbomDigest } }
  const okEnvelope = await signReleaseFor(srv, good)
  const created = await tusCreate(srv, ci, data.length, okEnvelope)
  t.equal(created.status, 201, 'a compliant creation request is accepted')
  await fetch(`${srv.url}${created.location}`, { method: 'DELETE', headers: { authorization: `Bearer ${ci}`, 'tus-resumable': '1.0.0' } })
  const id2 = await tusUpload(srv, ci, data)
  const published = await call(srv, ci, 'POST', '/v1/releases', { ...f, uploadId: id2, metadata: okEnvelope })
  t.equal(published.status, 201, JSON.stringify(published.json))
  t.match(published.json.provenance, good.provenance)
  const again = await tusCreate(srv, ci, data.length, okEnvelope)
  t.equal(again.status, 200, 'an identical release answers at once')
  t.equal(again.json?.existing?.id, published.json.id, 'naming the release; no upload')
  t.equal(again.location, null)
  const dl = await call(srv, viewer, 'GET', '/v1/releases/rootfs/1.0.0/sbom')
  t.equal(dl.status, 200)
  t.ok(dl.raw.equals(sbom), 'the SBOM comes back through its release')
  const other = await publish(srv, ci, { ...fields(randomBytes(1000), { name: 'other' }) })
  t.equal((await call(srv, viewer, 'GET', `/v1/releases/other/1.0.0/sbom`)).json?.error?.code, 'SBOM_NOT_FOUND', 'a digest never pushed')
  t.equal((await call(srv, viewer, 'GET', `/v1/releases/other/9.0.0/sbom`)).json?.error?.code, 'RELEASE_NOT_FOUND')

  // ---- which devices run a build from commit abc123
  const enrollAt = await enrollmentToken(srv)
  const inst = (r: { name: string; version: string; sha256: string; securityVersion: number }) => ({ name: r.name, version: r.version, sha256: r.sha256, securityVersion: r.securityVersion })
  const a = await enroll(srv, enrollAt, { installed: [inst(published.json)] })
  await enroll(srv, enrollAt, { installed: [inst(other)] })
  await enroll(srv, enrollAt, { installed: [{ ...inst(published.json), sha256: '1'.repeat(64) }] })
  const byRev = await call(srv, viewer, 'GET', '/v1/devices?sourceRevision=abc123')
  t.same([byRev.status, byRev.json.total, byRev.json.devices.map((d: any) => d.id)], [200, 1, [a.deviceId]], 'one query; a device reporting other bytes under that version is not counted')
  t.equal((await call(srv, viewer, 'GET', `/v1/devices?sbomDigest=${encodeURIComponent(stored.json.sbomDigest)}`)).json.total, 1, 'by SBOM digest')
  t.equal((await call(srv, viewer, 'GET', '/v1/devices?sourceRevision=abc12')).json.total, 0, 'a prefix is not the revision')
  t.equal((await call(srv, viewer, 'GET', '/v1/devices?sourceRevision=abc%25')).json.total, 0, 'LIKE wildcards match themselves')
  t.equal((await call(srv, viewer, 'GET', '/v1/devices?sourceRevision=test-revision')).json.total, 1, 'the release pushed without a policy')
}

async function publish(srv: TestServer, ci: string, f: PushFields) {
  const data = randomBytes(f.length)
  const ff = { ...f, sha256: sha256(data) }
  const uploadId = await tusUpload(srv, ci, data)
  const res = await call(srv, ci, 'POST', '/v1/releases', await releaseBody(srv, uploadId, data, ff as unknown as Record<string, unknown>))
  if (res.status !== 201) throw new Error(`publish: ${res.status} ${res.raw}`)
  return res.json
}

t.test('SQLite: provenance policy, SBOMs, refusal at tus creation, devices by revision', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  await suite(t, srv)
})

t.test('PostgreSQL: the same (migration 012)', async (t) => {
  const { freshPostgres } = await import('../helpers/postgres.js')
  const pg = await freshPostgres()
  t.teardown(() => pg.drop())
  const srv = await startServer({ DATABASE_URL: pg.url })
  t.teardown(() => srv.close())
  await suite(t, srv)
})

t.test('CLI: release policy, push --sbom refused before hashing then published, release show', async (t) => {
  const { mkdtemp, rm, writeFile, readFile } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { slipway } = await import('../helpers/cli.js')
  const { devReleaseKeyPath } = await import('../helpers/trust.js')
  const srv = await startServer()
  const dir = await mkdtemp(join(tmpdir(), 'slipway-prov-'))
  t.teardown(async () => {
    await srv.close()
    await rm(dir, { recursive: true, force: true })
  })
  const op = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: await srv.token('operator') }
  const env = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: await srv.token('ci'), SLIPWAY_CLI_STATE: join(dir, 'state'), SLIPWAY_RELEASE_KEY: devReleaseKeyPath(srv) }

  const set = await slipway(['release', 'policy', 'model-x', '--require', 'sourceRevision,sbomDigest,license', '--reason', 'EU AI Act'], op).done
  t.equal(set.code, 0, set.stderr)
  t.match(set.stdout, /require\s+sourceRevision, sbomDigest, license/)
  const byCi = await slipway(['release', 'policy', 'model-x', '--require', 'none'], env).done
  t.match(byCi.stderr, /error: AUTH_FORBIDDEN \(403\)/, 'CI may read, not set')
  t.match((await slipway(['release', 'policy', 'model-x'], env).done).stdout, /updated\s+\S+ by token:/)

  const model = join(dir, 'model.gguf')
  await writeFile(model, randomBytes(3 * 2 ** 20))
  const sbom = join(dir, 'sbom.spdx.json')
  await writeFile(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'model-x' }))
  const args = ['push', model, '--name', 'model-x', '--version', '2.0.0', '--kind', 'model', '--hardware', 'rpi5', '--source-revision', 'f00dcafe']
  const refused = await slipway([...args, '--sbom', sbom], env).done
  t.equal(refused.code, 1)
  t.match(refused.stderr, /error: PROVENANCE_REQUIRED \(422\): releases named model-x must carry signed provenance license/)
  t.notMatch(refused.stderr, /hashing|uploading/, 'refused before hashing or uploading')
  const mismatch = await slipway([...args, '--sbom', sbom, '--sbom-digest', 'sha256:' + '0'.repeat(64)], env).done
  t.match(mismatch.stderr, /--sbom-digest .* is not the sha256 of/, 'a digest that is not the file')

  const ok = await slipway([...args, '--sbom', sbom, '--license', 'Apache-2.0'], env).done
  t.equal(ok.code, 0, ok.stderr)
  const show = await slipway(['release', 'show', 'model-x@2.0.0'], env).done
  t.equal(show.code, 0, show.stderr)
  t.match(show.stdout, new RegExp(`provenance\\s+source f00dcafe, builder unspecified, sbom sha256:${sha256(await readFile(sbom))}, license Apache-2\\.0`))
  t.match(show.stdout, /signed by\s+[0-9a-f]{64} \(release role\)/)
  const back = await call(srv, op.SLIPWAY_TOKEN, 'GET', '/v1/releases/model-x/2.0.0/sbom')
  t.ok(back.raw.equals(await readFile(sbom)), 'the SBOM the push stored is the one its release names')

  // metadata signed already (release sign, then push --metadata): the policy sees what is signed
  const signedFile = join(dir, 'm.json')
  const sign = await slipway(['release', 'sign', model, '--name', 'model-x', '--version', '2.1.0', '--kind', 'model', '--hardware', 'rpi5', '--key', devReleaseKeyPath(srv), '--out', signedFile], {}).done
  t.equal(sign.code, 0, sign.stderr)
  const viaMetadata = await slipway(['push', model, '--name', 'model-x', '--version', '2.1.0', '--kind', 'model', '--hardware', 'rpi5', '--metadata', signedFile], env).done
  t.match(viaMetadata.stderr, /error: PROVENANCE_REQUIRED \(422\): .*sourceRevision, sbomDigest, license/, 'signed without provenance: refused')
  t.notMatch(viaMetadata.stderr, /uploading/)
})
