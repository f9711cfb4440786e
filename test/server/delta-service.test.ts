/**
 * DeltaService on real adapters (SQLite, file blobs, the in-process queue, a file
 * online key, the real builder). Retry rules of the build-delta job: a transient
 * failure retries with backoff and then succeeds; one that keeps failing ends
 * `failed` with its code once the attempts run out; altered input fails at once, not
 * retried. Offers: metadata close to its expiry is re-signed before it is offered.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import t, { type Test } from 'tap'
import { FileKeySigner } from '../../signing/index.js'
import { FileBlobStore } from '../../server/adapters/blob/index.js'
import { openRepositories } from '../../server/adapters/db/index.js'
import { BlobPatchBuilder } from '../../server/adapters/delta/blob-patch-builder.js'
import { InProcessQueue } from '../../server/adapters/queue/index.js'
import { SignerOnlineSigner } from '../../server/adapters/signer/online-signer.js'
import type { BuildOutcome } from '../../server/domain/deltas/delta-build.js'
import { acceptedDeltaFormats } from '../../server/domain/deltas/delta-formats.js'
import { DeltaService } from '../../server/domain/deltas/delta-service.js'
import { JOBS } from '../../server/domain/jobs.js'
import type { Release } from '../../server/domain/model.js'
import type { PatchBuilder } from '../../server/domain/ports/infrastructure.js'
import { applyDelta } from '../../client-sdk/src/delta/index.js'
import { imagePair, memberPair } from '../helpers/deltas.js'

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

async function setup(t: Test, wrap: (real: PatchBuilder) => PatchBuilder, attempts = 3, clock?: { now: Date }, formatVersion: 1 | 2 | 3 = 1, pair = imagePair(300_000)) {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-delta-retry-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const repos = await openRepositories({ sqlitePath: join(dir, 'db.sqlite') })
  t.teardown(() => repos.close())
  const blobs = new FileBlobStore({ root: join(dir, 'blobs') })
  await blobs.init()
  const queue = new InProcessQueue()
  t.teardown(() => queue.close())
  const workDir = join(dir, 'work')
  const builder = wrap(new BlobPatchBuilder(blobs, { memoryBudget: 256 << 20, workDir, formatVersion }))
  const signer = new SignerOnlineSigner(FileKeySigner.generate('ed25519'), 'file')
  const fleet = { topInstalled: async () => [] }
  const opts = { offerRatio: 0.7, topSources: 3, attempts, backoffMs: 50 }
  const deltas = new DeltaService(repos.deltas, repos.releases, queue, blobs, builder, signer, fleet, opts, clock ? () => clock.now : undefined)
  const outcomes: BuildOutcome[] = []
  deltas.onBuildFinished((o) => outcomes.push(o))
  queue.handle<{ sourceSha256: string; targetSha256: string }>(JOBS.buildDelta, (job) => deltas.build(job.data, job.attempt))
  await queue.start()
  const { source, target } = pair
  const release = async (version: string, data: Buffer): Promise<Release> => {
    await blobs.put(Readable.from([data]))
    const r: Release = {
      id: `r-${version}`,
      name: 'rootfs',
      version,
      kind: 'os-image',
      hardware: ['rpi5'],
      sha256: sha(data),
      length: data.length,
      securityVersion: 1,
      provenance: {},
      metadata: null,
      createdBy: 'test',
      createdAt: new Date().toISOString(),
    }
    await repos.releases.insert(r)
    return r
  }
  const v1 = await release('1.0.0', source)
  const v2 = await release('1.1.0', target)
  const settled = async (id: string) => {
    const deadline = Date.now() + 30_000
    for (;;) {
      const d = await deltas.get(id)
      if (['ready', 'too-large', 'failed'].includes(d.state)) return d
      if (Date.now() > deadline) throw new Error(`delta stuck in ${d.state}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  return { deltas, queue, blobs, outcomes, v1, v2, settled, workDir, signer, repos, pair }
}

t.test('a transient failure is retried with backoff and the build then succeeds', async (t) => {
  let calls = 0
  const s = await setup(t, (real) => ({
    build: async (input, progress) => {
      if (++calls === 1) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
      return real.build(input, progress)
    },
  }))
  const d = await s.deltas.request(s.v1.id, s.v2.id)
  const done = await s.settled(d.id)
  t.match(done, { state: 'ready', attempts: 2, errorCode: null, errorMessage: null })
  t.same(s.outcomes.map((o) => o.result), ['retry', 'ready'])
  t.equal(s.outcomes[0]?.errorCode, 'DELTA_BUILD_ERROR')
  t.ok(await s.deltas.offerFor(s.v1.sha256, s.v2), 'offered once built')
})

t.test('a failure that persists ends failed with its code when the attempts run out', async (t) => {
  const s = await setup(
    t,
    (real) => ({
        build: async () => {
        throw new Error('the disk went away')
      },
    }),
    2,
  )
  const d = await s.deltas.request(s.v1.id, s.v2.id)
  const done = await s.settled(d.id)
  t.match(done, { state: 'failed', attempts: 2, errorCode: 'DELTA_BUILD_ERROR', errorMessage: 'the disk went away' })
  const job = await s.queue.status(`delta-${s.v1.sha256}-${s.v2.sha256}`, JOBS.buildDelta)
  t.match(job, { state: 'failed', attemptsMade: 2, permanent: false })
  t.same(s.outcomes.map((o) => o.result), ['retry', 'failed'])
})

t.test('an image that no longer matches its sha256 fails at once, permanently, and leaves no scratch files', async (t) => {
  const s = await setup(t, (real) => real)
  await writeFile(s.blobs.path(s.v1.sha256), Buffer.alloc(300_000, 7)) // bit rot in the store
  const d = await s.deltas.request(s.v1.id, s.v2.id)
  const done = await s.settled(d.id)
  t.match(done, { state: 'failed', attempts: 1, errorCode: 'DELTA_INPUT_MISMATCH' })
  t.match(await s.queue.status(`delta-${s.v1.sha256}-${s.v2.sha256}`, JOBS.buildDelta), { state: 'failed', permanent: true, attemptsMade: 1 })
  t.same(await readdir(s.workDir), [])
  t.equal(await s.deltas.offerFor(s.v1.sha256, s.v2), undefined)
})

t.test('offerFor re-signs delta metadata that expires within 7 days, and keeps it', async (t) => {
  const clock = { now: new Date() }
  const s = await setup(t, (real) => real, 3, clock)
  const d = await s.settled((await s.deltas.request(s.v1.id, s.v2.id)).id)
  t.equal(d.state, 'ready')
  const first = (await s.deltas.offerFor(s.v1.sha256, s.v2)) as { metadata: { signed: { expires: string } } }
  t.equal(JSON.stringify(first.metadata), d.metadata, 'fresh metadata is offered as stored')
  const expires = Date.parse(first.metadata.signed.expires)
  t.ok(expires > Date.now() + 29 * 86400_000, 'delta metadata lives 30 days')

  clock.now = new Date(expires - 6 * 86400_000) // 6 days before it expires
  const later = (await s.deltas.offerFor(s.v1.sha256, s.v2)) as { metadata: { signed: Record<string, unknown>; signatures: unknown[] } }
  t.ok(Date.parse(later.metadata.signed.expires as string) > expires, 're-signed with a later expiry')
  t.match(later.metadata.signed, { sourceSha256: s.v1.sha256, targetSha256: s.v2.sha256, patchSha256: d.patchSha256, patchLength: d.patchLength })
  t.equal((await s.deltas.get(d.id)).metadata, JSON.stringify(later.metadata), 'the new signature is stored')
})

t.test('format 2: one patch per format; a device gets the smallest its applier takes', async (t) => {
  const s = await setup(t, (real) => real, 3, undefined, 2, memberPair())
  const d = await s.settled((await s.deltas.request(s.v1.id, s.v2.id)).id)
  t.equal(d.state, 'ready')
  t.match(JSON.parse(d.metadata as string), { signed: { format: 'slipway-delta-v1' } }, 'the row holds the patch every applier takes')
  const variants = await s.repos.deltas.variantsOf([d])
  t.same(variants.map((v) => v.format), ['slipway-delta-v2+puff'], 'member codec 2 (puff): for any device reporting it, whatever its zlib')
  const v2 = variants[0]!
  t.ok(v2.patchLength < (d.patchLength as number) / 2, `the v2 patch (${v2.patchLength} B) is far smaller than its v1 twin (${d.patchLength} B)`)
  t.match(JSON.parse(v2.metadata), { signed: { format: 'slipway-delta-v2', patchSha256: v2.patchSha256, patchLength: v2.patchLength } })
  t.ok(await s.blobs.stat(v2.patchSha256), 'both patches are stored')
  t.ok(await s.blobs.stat(d.patchSha256 as string))

  const old = await s.deltas.offerFor(s.v1.sha256, s.v2)
  t.match(old, { patchSha256: d.patchSha256, patchLength: d.patchLength }, 'a device that reports nothing gets the version-1 twin, not the full image')
  const zlib = process.versions.zlib
  const older = await s.deltas.offerFor(s.v1.sha256, s.v2, acceptedDeltaFormats(`slipway-delta-v1, slipway-delta-v2;zlib=${zlib}`, zlib))
  t.equal(older?.patchSha256, d.patchSha256, 'an agent from before codec 2 (no members=): the version-1 twin')
  const other = await s.deltas.offerFor(s.v1.sha256, s.v2, acceptedDeltaFormats(`slipway-delta-v1, slipway-delta-v2;zlib=0.0-other;members=deflate+puff`, zlib))
  t.match(other, { patchSha256: v2.patchSha256, patchLength: v2.patchLength, metadata: { signed: { format: 'slipway-delta-v2' } } }, 'puff reported, another zlib: the v2 patch')

  // both rebuild the target with the device's applier
  for (const patchSha of [d.patchSha256 as string, v2.patchSha256]) {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-variant-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    await writeFile(join(dir, 'old'), s.pair.source)
    await writeFile(join(dir, 'patch'), await buffer(await s.blobs.get(patchSha)))
    await applyDelta(join(dir, 'old'), join(dir, 'patch'), join(dir, 'new'))
    t.equal(sha(await readFile(join(dir, 'new'))), s.v2.sha256)
  }
})

t.test('format 2 on images without compressed members: one version-1 patch, offered to every device', async (t) => {
  const s = await setup(t, (real) => real, 3, undefined, 2)
  const d = await s.settled((await s.deltas.request(s.v1.id, s.v2.id)).id)
  t.equal(d.state, 'ready')
  t.match(JSON.parse(d.metadata as string), { signed: { format: 'slipway-delta-v1' } })
  t.same(await s.repos.deltas.variantsOf([d]), [])
  t.ok(await s.deltas.offerFor(s.v1.sha256, s.v2), 'a device that reports nothing takes it')
})

t.test('format 3: sparse diffs for devices that report v3, the version-1 twin for the rest', async (t) => {
  for (const [name, pair, offer] of [
    ['compressed members', memberPair(), 'slipway-delta-v3+puff'],
    ['plain images', imagePair(300_000), 'slipway-delta-v3'],
  ] as const) {
    const s = await setup(t, (real) => real, 3, undefined, 3, pair)
    const d = await s.settled((await s.deltas.request(s.v1.id, s.v2.id)).id)
    t.equal(d.state, 'ready', name)
    t.match(JSON.parse(d.metadata as string), { signed: { format: 'slipway-delta-v1' } }, `${name}: the row holds the patch every applier takes`)
    const variants = await s.repos.deltas.variantsOf([d])
    t.same(variants.map((v) => v.format), [offer], `${name}: one version-3 variant`)
    const v3 = variants[0]!
    t.match(JSON.parse(v3.metadata), { signed: { format: 'slipway-delta-v3', patchSha256: v3.patchSha256, patchLength: v3.patchLength } })
    const zlib = process.versions.zlib
    const now = await s.deltas.offerFor(s.v1.sha256, s.v2, acceptedDeltaFormats(`slipway-delta-v1, slipway-delta-v2;zlib=${zlib};members=deflate+puff, slipway-delta-v3;zlib=${zlib};members=deflate+puff`, zlib))
    t.equal(now?.patchSha256, v3.patchSha256, `${name}: today's agent gets version 3`)
    const before = await s.deltas.offerFor(s.v1.sha256, s.v2, acceptedDeltaFormats(`slipway-delta-v1, slipway-delta-v2;zlib=${zlib};members=deflate+puff`, zlib))
    t.equal(before?.patchSha256, d.patchSha256, `${name}: an agent from before version 3 gets the version-1 twin`)
    for (const patchSha of [d.patchSha256 as string, v3.patchSha256]) {
      const dir = await mkdtemp(join(tmpdir(), 'slipway-variant-'))
      t.teardown(() => rm(dir, { recursive: true, force: true }))
      await writeFile(join(dir, 'old'), s.pair.source)
      await writeFile(join(dir, 'patch'), await buffer(await s.blobs.get(patchSha)))
      await applyDelta(join(dir, 'old'), join(dir, 'patch'), join(dir, 'new'))
      t.equal(sha(await readFile(join(dir, 'new'))), s.v2.sha256, `${name}: ${patchSha === v3.patchSha256 ? 'v3' : 'twin'} rebuilds the target`)
    }
  }
})

t.test('offerFor re-signs a variant whose metadata expires within 7 days, and keeps it', async (t) => {
  const clock = { now: new Date() }
  const s = await setup(t, (real) => real, 3, clock, 2, memberPair())
  const d = await s.settled((await s.deltas.request(s.v1.id, s.v2.id)).id)
  const formats = acceptedDeltaFormats('slipway-delta-v2;members=puff', process.versions.zlib)
  const first = (await s.deltas.offerFor(s.v1.sha256, s.v2, formats)) as { metadata: { signed: { expires: string } } }
  const expires = Date.parse(first.metadata.signed.expires)
  clock.now = new Date(expires - 6 * 86400_000)
  const later = (await s.deltas.offerFor(s.v1.sha256, s.v2, formats)) as { metadata: { signed: { expires: string; format: string } } }
  t.ok(Date.parse(later.metadata.signed.expires) > expires, 're-signed with a later expiry')
  t.equal(later.metadata.signed.format, 'slipway-delta-v2', 'in its own format')
  const [v2] = await s.repos.deltas.variantsOf([d])
  t.equal(v2?.metadata, JSON.stringify(later.metadata), 'the new signature is stored on the variant')
  t.equal((await s.deltas.get(d.id)).metadata, d.metadata, 'the version-1 row is untouched')
})

t.test('acceptedDeltaFormats: version 1 always, version 2 only with a matching zlib', async (t) => {
  t.same(acceptedDeltaFormats(undefined, '1.3'), ['slipway-delta-v1'])
  t.same(acceptedDeltaFormats('slipway-delta-v2', '1.3'), ['slipway-delta-v1'], 'v2 without its zlib')
  t.same(acceptedDeltaFormats(' slipway-delta-v1 ,slipway-delta-v2; zlib=1.3', '1.3'), ['slipway-delta-v1', 'slipway-delta-v2'])
  t.same(acceptedDeltaFormats('slipway-delta-v2;zlib=1.3', undefined), ['slipway-delta-v1'])
  t.same(acceptedDeltaFormats('garbage;;,,', '1.3'), ['slipway-delta-v1'])
})
