/**
 * Deltas over real HTTP on an embedded server (SQLite, file blobs, in-process jobs):
 * request, build once, signed metadata a device verifies, patch download and apply,
 * the offer rule, refusals with their codes, a permanent failure, metrics.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { applyDelta, FORMAT_NAME } from '../../client-sdk/src/delta/index.js'
import { canonicalBytes, TrustedRoot, verifyDelta } from '../../signing/verify/index.js'
import { call, sha256 } from '../helpers/api.js'
import { imagePair, memberPair, pushRelease, waitForDelta } from '../helpers/deltas.js'
import { startServer } from '../helpers/server.js'

const metricValue = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('request, build once, verify the signed metadata, download and apply the patch', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const op = await srv.token('operator')
  const { source, target } = imagePair()
  const v1 = await pushRelease(srv, ci, source, { version: '1.0.0' })
  const v2 = await pushRelease(srv, ci, target, { version: '1.1.0' })

  // two requests at once, one by name@version, one by id: one row, one build
  const [a, b] = await Promise.all([
    call(srv, op, 'POST', '/v1/deltas', { from: 'rootfs@1.0.0', to: v2.id }),
    call(srv, op, 'POST', '/v1/deltas', { from: v1.id, to: 'rootfs@1.1.0' }),
  ])
  t.equal(a.status, 202, 'accepted while it builds')
  t.equal(b.status, 202)
  t.equal(a.json.id, b.json.id, 'concurrent requests share one delta')
  t.match(a.json, { from: v1.id, to: v2.id, sourceSha256: v1.sha256, targetSha256: v2.sha256, offered: false, patchSha256: null })

  const done = await waitForDelta(srv, op, a.json.id, ['ready', 'too-large', 'failed'])
  t.equal(done.state, 'ready', JSON.stringify(done.error))
  t.match(done, { progress: 1, attempts: 1, offered: true, error: null, targetLength: target.length })
  t.ok(done.patchLength < 0.7 * done.compressedTargetLength, `patch ${done.patchLength} < 0.7 × ${done.compressedTargetLength}`)
  t.ok(done.patchLength < 100_000, `the patch is small: ${done.patchLength} bytes`)
  t.equal(done.patchRatio, done.patchLength / done.compressedTargetLength)
  // format 3 (the default): the row holds the version-1 twin every applier takes, the
  // version-3 patch is its variant, for agents that report slipway-delta-v3
  t.match(done.variants, [{ format: 'slipway-delta-v3', patchSha256: /^[0-9a-f]{64}$/ }], 'format 3 (the default): the v3 patch beside the row')
  t.equal(done.variants.length, 1, 'one variant')
  t.not(done.variants[0].patchSha256, done.patchSha256, 'a patch of its own')
  t.ok(done.finishedAt && done.buildMs >= 0)

  const again = await call(srv, ci, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })
  t.equal(again.status, 200, 'a built delta is returned as it is')
  t.same(again.json, done, 'no rebuild: same record, same attempts')

  // the device's view: metadata signed by the online key of the published root
  const root = await call(srv, undefined, 'GET', '/v1/trust/root/1.json')
  const verified = verifyDelta(TrustedRoot.fromPinned(root.raw), canonicalBytes(done.metadata))
  t.same(verified.delta, { sourceSha256: v1.sha256, targetSha256: v2.sha256, patchSha256: done.patchSha256, patchLength: done.patchLength, format: FORMAT_NAME })

  const dir = await mkdtemp(join(tmpdir(), 'slipway-delta-http-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const patch = await call(srv, op, 'GET', `/v1/blobs/${done.patchSha256}`)
  t.equal(patch.status, 200)
  t.equal(sha256(patch.raw), done.patchSha256)
  await writeFile(join(dir, 'source'), source)
  await writeFile(join(dir, 'patch'), patch.raw)
  const applied = await applyDelta(join(dir, 'source'), join(dir, 'patch'), join(dir, 'target'), { expectedTargetSha256: v2.sha256 })
  t.equal(applied.targetSha256, v2.sha256)
  t.ok((await readFile(join(dir, 'target'))).equals(target), 'the downloaded patch rebuilds the target')

  const release = await srv.container.releases.get(v2.id)
  const offer = await srv.container.deltas.offerFor(v1.sha256, release)
  t.same(offer, { metadata: done.metadata, patchSha256: done.patchSha256, patchLength: done.patchLength }, 'ready deltas are offered')
  t.equal(await srv.container.deltas.offerFor('0'.repeat(64), release), undefined, 'no delta from an unknown image')

  const list = await call(srv, op, 'GET', `/v1/deltas?state=ready&to=${v2.id}`)
  t.same(list.json.deltas.map((d: { id: string }) => d.id), [done.id])
  t.same((await call(srv, op, 'GET', '/v1/deltas?state=failed')).json.deltas, [])
  t.same((await call(srv, op, 'GET', `/v1/deltas?limit=1&after=${done.id}`)).json.deltas, [])
  t.same(await readdir(srv.config.delta.workDir), [], 'no scratch files left behind')

  const metrics = (await call(srv, undefined, 'GET', '/metrics')).raw.toString('utf8')
  t.equal(metricValue(metrics, 'slipway_delta_builds_total{result="ready"}'), 1, 'built exactly once')
  t.equal(metricValue(metrics, 'slipway_delta_build_duration_seconds_count{result="ready"}'), 1)
  t.equal(metricValue(metrics, 'slipway_deltas{state="ready"}'), 1)
  t.equal(metricValue(metrics, 'slipway_delta_saved_bytes'), target.length - done.patchLength)
})

/** A server at SLIPWAY_DELTA_FORMAT_VERSION=`format` with `pair` pushed as 1.0.0 and 1.1.0, and the delta between them built. */
async function builtOn(t: Test, format: string, { source, target }: { source: Buffer; target: Buffer }) {
  const srv = await startServer({ SLIPWAY_DELTA_FORMAT_VERSION: format })
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const op = await srv.token('operator')
  const v1 = await pushRelease(srv, ci, source, { version: '1.0.0' })
  const v2 = await pushRelease(srv, ci, target, { version: '1.1.0' })
  const asked = await call(srv, op, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })
  const done = await waitForDelta(srv, op, asked.json.id, ['ready', 'too-large', 'failed'])
  t.equal(done.state, 'ready', JSON.stringify(done.error))
  return { srv, ci, op, v1, v2, done }
}

t.test('SLIPWAY_DELTA_FORMAT_VERSION=1: one version-1 patch per pair, no variants', async (t) => {
  const { done } = await builtOn(t, '1', imagePair())
  t.same(done.variants, [], 'no variants')
  t.match(done.metadata, { signed: { format: FORMAT_NAME } }, 'signed as version 1')
})

t.test('format 2: the pair\'s other-format patches are listed beside the row, each with its size', async (t) => {
  const { srv, ci, op, v1, v2, done } = await builtOn(t, '2', memberPair())
  t.equal(done.variants.length, 1, JSON.stringify(done.variants))
  const [variant] = done.variants
  t.equal(variant.format, 'slipway-delta-v2+puff', 'the version-2 patch, for devices reporting member codec 2')
  t.match(variant.patchSha256, /^[0-9a-f]{64}$/)
  t.not(variant.patchSha256, done.patchSha256, 'a patch of its own, beside the row\'s version-1 twin')
  t.equal(variant.patchRatio, variant.patchLength / done.compressedTargetLength)
  const blob = await call(srv, op, 'GET', `/v1/blobs/${variant.patchSha256}`)
  t.equal(blob.status, 200, 'its bytes are downloadable like the row\'s')
  t.equal(sha256(blob.raw), variant.patchSha256)
  const listed = await call(srv, op, 'GET', '/v1/deltas')
  t.same(listed.json.deltas.find((d: any) => d.id === done.id).variants, done.variants, 'the listing shows the same variants')
  const again = await call(srv, ci, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })
  t.same(again.json.variants, done.variants, 'and so does asking again')
})

t.test('refusals have stable codes and leave nothing behind', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const op = await srv.token('operator')
  const { source, target } = imagePair(300_000)
  const v1 = await pushRelease(srv, ci, source, { version: '1.0.0' })
  const v2 = await pushRelease(srv, ci, target, { version: '1.1.0' })
  const other = await pushRelease(srv, ci, randomBytes(1000), { name: 'llama', version: '1.0.0', kind: 'model' })
  const model = await pushRelease(srv, ci, randomBytes(1000), { version: '2.0.0', kind: 'model' })
  const twin = await pushRelease(srv, ci, target, { version: '1.1.1' })

  const refuse = async (body: unknown, status: number, code: string, token = op) => {
    const r = await call(srv, token, 'POST', '/v1/deltas', body)
    t.equal(r.status, status, `${JSON.stringify(body)} → ${status}`)
    t.equal(r.json?.error?.code, code)
  }
  await refuse({ from: 'missing-id', to: v2.id }, 404, 'RELEASE_NOT_FOUND')
  await refuse({ from: v1.id, to: 'rootfs@9.9.9' }, 404, 'RELEASE_NOT_FOUND')
  await refuse({ from: v1.id, to: v1.id }, 400, 'DELTA_SAME_RELEASE')
  await refuse({ from: other.id, to: v2.id }, 422, 'DELTA_NAME_MISMATCH')
  await refuse({ from: model.id, to: v2.id }, 422, 'DELTA_KIND_MISMATCH')
  await refuse({ from: v2.id, to: twin.id }, 422, 'DELTA_SAME_CONTENT')
  await refuse({ from: v1.id }, 400, 'VALIDATION_FAILED')
  await refuse({ from: v1.id, to: v2.id, extra: 1 }, 400, 'VALIDATION_FAILED')
  const anonymous = await call(srv, undefined, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })
  t.equal(anonymous.status, 401)
  t.equal(anonymous.json.error.code, 'AUTH_MISSING')
  t.same((await call(srv, op, 'GET', '/v1/deltas')).json.deltas, [], 'no refused request left a row')
  t.equal((await call(srv, op, 'GET', '/v1/deltas/nope')).json.error.code, 'DELTA_NOT_FOUND')
  t.equal((await call(srv, op, 'GET', '/v1/deltas?state=done')).status, 400)
  t.equal((await call(srv, ci, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })).status, 202, 'CI may ask for a delta')
})

t.test('a delta that does not pay is too-large: built, sized, never offered, patch not kept', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const v1 = await pushRelease(srv, ci, randomBytes(400_000), { version: '1.0.0' })
  const target = randomBytes(400_000) // nothing in common: the patch is as big as the image
  const v2 = await pushRelease(srv, ci, target, { version: '2.0.0' })
  const req = await call(srv, ci, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })
  const done = await waitForDelta(srv, ci, req.json.id, ['ready', 'too-large', 'failed'])
  t.match(done, { state: 'too-large', offered: false, error: null })
  t.ok(done.patchLength >= 0.7 * done.compressedTargetLength, `${done.patchLength} ≥ 0.7 × ${done.compressedTargetLength}`)
  t.equal(await srv.container.deltas.offerFor(v1.sha256, await srv.container.releases.get(v2.id)), undefined)
  t.equal((await call(srv, ci, 'GET', `/v1/blobs/${done.patchSha256}`)).status, 404, 'an unoffered patch is not stored')
  t.equal((await call(srv, ci, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })).status, 200, 'and not rebuilt on request')
})

t.test('a missing input fails permanently with its code, once; asking again retries', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const ci = await srv.token('ci')
  const { source, target } = imagePair(300_000)
  const v1 = await pushRelease(srv, ci, source, { version: '1.0.0' })
  const v2 = await pushRelease(srv, ci, target, { version: '1.1.0' })
  await srv.container.blobs.delete(v1.sha256) // the source image is gone from the store

  const req = await call(srv, op, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })
  const failed = await waitForDelta(srv, op, req.json.id, ['failed', 'ready'])
  t.match(failed, { state: 'failed', attempts: 1, offered: false, error: { code: 'DELTA_SOURCE_MISSING' } })
  const job = await srv.container.queue.status(`delta-${v1.sha256}-${v2.sha256}`, 'build-delta')
  t.match(job, { state: 'failed', permanent: true, attemptsMade: 1 }, 'not retried: marked permanent')

  const retry = await call(srv, op, 'POST', '/v1/deltas', { from: v1.id, to: v2.id })
  t.equal(retry.status, 202, 'a failed delta can be asked for again')
  t.equal(retry.json.id, req.json.id)
  const again = await waitForDelta(srv, op, req.json.id, ['failed', 'ready'])
  t.match(again, { state: 'failed', attempts: 2, error: { code: 'DELTA_SOURCE_MISSING' } })
  t.same(await readdir(srv.config.delta.workDir), [], 'no scratch files left behind')
  const metrics = (await call(srv, undefined, 'GET', '/metrics')).raw.toString('utf8')
  t.equal(metricValue(metrics, 'slipway_delta_builds_total{result="failed"}'), 2)
  t.equal(metricValue(metrics, 'slipway_deltas{state="failed"}'), 1)
})
