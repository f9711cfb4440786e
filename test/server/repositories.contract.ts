/** One contract for the repositories, run on SQLite and on PostgreSQL. */
import type { Test } from 'tap'
import type { ApiToken, DeltaRecord, Release, StoredRoot } from '../../server/domain/model.js'
import type { Repositories } from '../../server/domain/ports/repositories.js'

// The driver's own codes for a broken constraint: better-sqlite3's, then PostgreSQL's SQLSTATE.
const uniqueViolation = /^(SQLITE_CONSTRAINT_UNIQUE|23505)$/
const foreignKeyViolation = /^(SQLITE_CONSTRAINT_FOREIGNKEY|23503)$/

const token = (id: string, over: Partial<ApiToken> = {}): ApiToken => ({
  id,
  role: 'ci',
  label: `label ${id}`,
  tokenHash: `hash-${id}`,
  createdAt: `2026-01-01T00:00:00.00${id.length % 10}Z`,
  expiresAt: null,
  revokedAt: null,
  ...over,
})

const release = (id: string, version: string, over: Partial<Release> = {}): Release => ({
  id,
  name: 'rootfs',
  version,
  kind: 'os-image',
  hardware: ['rpi5', 'rpi4'],
  sha256: 'a'.repeat(64),
  length: 5 * 1024 ** 3, // above 2^32: BIGINT must round-trip
  securityVersion: 3,
  provenance: { sourceRevision: 'abc123', builder: 'ci', sbomDigest: 'sha256:' + 'b'.repeat(64) },
  metadata: null,
  createdBy: 'tok1',
  createdAt: `2026-01-01T00:00:0${version.at(-1)}.000Z`,
  ...over,
})

export function repositoriesContract(t: Test, open: () => Promise<Repositories>): void {
  let repos: Repositories
  t.before(async () => {
    repos = await open()
  })
  t.teardown(() => repos.close())

  t.test('tokens: insert, find by hash, list, revoke, count usable', async (t) => {
    await repos.tokens.insert(token('t1', { role: 'admin' }))
    await repos.tokens.insert(token('t2'))
    await repos.tokens.insert(token('t3', { expiresAt: '2026-06-01T00:00:00.000Z' }))
    t.same(await repos.tokens.findByHash('hash-t2'), token('t2'))
    t.equal(await repos.tokens.findByHash('nope'), undefined)
    t.same((await repos.tokens.list()).map((x) => x.id).sort(), ['t1', 't2', 't3'])
    t.equal(await repos.tokens.countUsable('ci', '2026-05-01T00:00:00.000Z'), 2)
    t.equal(await repos.tokens.countUsable('ci', '2026-07-01T00:00:00.000Z'), 1, 'expired token not usable')
    t.equal(await repos.tokens.revoke('t2', '2026-02-01T00:00:00.000Z'), true)
    t.equal(await repos.tokens.revoke('t2', '2026-02-02T00:00:00.000Z'), false, 'revoking twice is a no-op')
    t.equal(await repos.tokens.revoke('missing', '2026-02-02T00:00:00.000Z'), false)
    t.equal((await repos.tokens.findByHash('hash-t2'))?.revokedAt, '2026-02-01T00:00:00.000Z')
    t.equal(await repos.tokens.countUsable('ci', '2026-05-01T00:00:00.000Z'), 1)
    t.equal(await repos.tokens.countUsable('admin', '2026-05-01T00:00:00.000Z'), 1)
    await t.rejects(repos.tokens.insert(token('t4', { tokenHash: 'hash-t1' })), { code: uniqueViolation }, 'token hashes are unique')
  })

  t.test('releases: insert, duplicate name+version, find, list with keyset pages', async (t) => {
    t.equal(await repos.releases.insert(release('r1', '1.0.1')), 'created')
    t.equal(await repos.releases.insert(release('r2', '1.0.2', { metadata: { signed: { x: 1 }, signatures: [] } })), 'created')
    t.equal(await repos.releases.insert(release('r3', '1.0.3')), 'created')
    t.equal(await repos.releases.insert(release('r4', '2.0.1', { name: 'model', createdAt: '2026-01-01T00:00:09.000Z' })), 'created')
    t.equal(await repos.releases.insert(release('r9', '1.0.1', { sha256: 'c'.repeat(64) })), 'duplicate')
    t.same(await repos.releases.findById('r2'), release('r2', '1.0.2', { metadata: { signed: { x: 1 }, signatures: [] } }))
    t.same(await repos.releases.findByNameVersion('rootfs', '1.0.3'), release('r3', '1.0.3'))
    t.equal(await repos.releases.findByNameVersion('rootfs', '9.9.9'), undefined)
    t.equal(await repos.releases.findById('r9'), undefined, 'the duplicate left nothing')
    const page1 = await repos.releases.list({ name: 'rootfs', limit: 2 })
    t.same(page1.map((r) => r.id), ['r1', 'r2'])
    const page2 = await repos.releases.list({ name: 'rootfs', limit: 2, after: 'r2' })
    t.same(page2.map((r) => r.id), ['r3'])
    t.same((await repos.releases.list({ limit: 10 })).map((r) => r.id), ['r1', 'r2', 'r3', 'r4'])
  })

  t.test('roots: insert in order, duplicate version, find, latest, list', async (t) => {
    const root = (version: number, over: Partial<StoredRoot> = {}): StoredRoot => ({
      version,
      // canonical wire text keeps escaped control characters and non-ASCII as is
      document: `{"signed":{"_type":"root","note":"v${version} caf\u00e9 \\n"},"signatures":[]}`,
      sha256: String(version).repeat(64).slice(0, 64),
      createdAt: `2026-01-0${version}T00:00:00.000Z`,
      ...over,
    })
    t.equal(await repos.roots.latest(), undefined, 'no root before the first install')
    t.same(await repos.roots.list(), [])
    t.equal(await repos.roots.insert(root(1)), 'created')
    t.equal(await repos.roots.insert(root(2)), 'created')
    t.equal(await repos.roots.insert(root(2, { document: '{}' })), 'duplicate', 'a version is published once')
    t.same(await repos.roots.find(2), root(2), 'the document round-trips byte for byte')
    t.equal(await repos.roots.find(3), undefined)
    t.same(await repos.roots.latest(), root(2))
    t.equal(await repos.roots.insert(root(3)), 'created')
    t.same((await repos.roots.list()).map((r) => r.version), [1, 2, 3], 'oldest first')
  })

  t.test('deltas: one row per release pair, content lookups, compare-and-set transitions, pages, summary', async (t) => {
    for (const [id, v] of [['d1', '3.0.1'], ['d2', '3.0.2'], ['d3', '3.0.3']] as const)
      await repos.releases.insert(release(id, v, { name: 'dbase', sha256: id.repeat(32) }))
    const delta = (id: string, from: string, to: string, over: Partial<DeltaRecord> = {}): DeltaRecord => ({
      id,
      fromReleaseId: from,
      toReleaseId: to,
      sourceSha256: from.repeat(32),
      targetSha256: to.repeat(32),
      targetLength: 6 * 1024 ** 3, // BIGINT round trip
      state: 'queued',
      builtBytes: 0,
      patchSha256: null,
      patchLength: null,
      compressedTargetLength: null,
      metadata: null,
      errorCode: null,
      errorMessage: null,
      attempts: 0,
      buildMs: null,
      createdAt: `2026-02-01T00:00:0${id.at(-1)}.000Z`,
      updatedAt: `2026-02-01T00:00:0${id.at(-1)}.000Z`,
      finishedAt: null,
      ...over,
    })
    const a = await repos.deltas.insertOrGet(delta('x1', 'd1', 'd3'))
    t.equal(a.created, true)
    const again = await repos.deltas.insertOrGet(delta('x9', 'd1', 'd3', { state: 'failed' }))
    t.same(again, { delta: delta('x1', 'd1', 'd3'), created: false }, 'the same pair returns the existing row')
    t.equal(await repos.deltas.findById('x9'), undefined)
    t.equal((await repos.deltas.insertOrGet(delta('x2', 'd2', 'd3'))).created, true)
    await t.rejects(repos.deltas.insertOrGet(delta('x3', 'nope', 'd3')), { code: foreignKeyViolation }, 'from must be a release')
    t.same(await repos.deltas.findByReleases('d2', 'd3'), delta('x2', 'd2', 'd3'))
    t.same((await repos.deltas.listByContent('d1'.repeat(32), 'd3'.repeat(32))).map((d) => d.id), ['x1'])

    const content = { sourceSha256: 'd1'.repeat(32), targetSha256: 'd3'.repeat(32) }
    t.equal(await repos.deltas.transition(content, ['queued'], { state: 'building', attempts: 1, builtBytes: 5 * 1024 ** 3 }), 1)
    t.equal(await repos.deltas.transition(content, ['queued'], { state: 'failed' }), 0, 'a state not in `from` is left alone')
    const metadata = '{"signed":{"_type":"delta","note":"caf\u00e9"},"signatures":[]}'
    t.equal(
      await repos.deltas.transition(content, ['building'], {
        state: 'ready',
        patchSha256: 'f'.repeat(64),
        patchLength: 1000,
        compressedTargetLength: 4 * 1024 ** 3,
        metadata,
        buildMs: 1234,
        finishedAt: '2026-02-01T00:01:00.000Z',
      }),
      1,
    )
    const ready = await repos.deltas.findById('x1')
    t.match(ready, { state: 'ready', attempts: 1, builtBytes: 5 * 1024 ** 3, patchLength: 1000, compressedTargetLength: 4 * 1024 ** 3, metadata, buildMs: 1234 })
    t.equal(await repos.deltas.transitionOne('x2', ['building'], { state: 'ready' }), false)
    t.equal(await repos.deltas.transitionOne('x2', ['queued'], { state: 'failed', errorCode: 'E', errorMessage: 'm' }), true)
    t.match(await repos.deltas.findById('x2'), { state: 'failed', errorCode: 'E', errorMessage: 'm' })

    t.same((await repos.deltas.list({ limit: 1 })).map((d) => d.id), ['x1'])
    t.same((await repos.deltas.list({ limit: 5, after: 'x1' })).map((d) => d.id), ['x2'])
    t.same((await repos.deltas.list({ limit: 5, state: 'failed' })).map((d) => d.id), ['x2'])
    t.same((await repos.deltas.list({ limit: 5, toReleaseId: 'd2' })).map((d) => d.id), [])
    t.same(await repos.deltas.summary(), {
      byState: { queued: 0, building: 0, ready: 1, 'too-large': 0, failed: 1 },
      savedBytes: 6 * 1024 ** 3 - 1000,
    })
  })

  t.test('delta variants: one patch per format per content pair, replaced as a whole, re-signed one by one', async (t) => {
    const content = { sourceSha256: 'e1'.repeat(32), targetSha256: 'e2'.repeat(32) }
    const other = { sourceSha256: 'e1'.repeat(32), targetSha256: 'e3'.repeat(32) }
    const v = (format: string, n: number) => ({ format, patchSha256: String(n).repeat(64).slice(0, 64), patchLength: 5 * 1024 ** 3 + n, metadata: `{"m":${n}}`, updatedAt: '2026-12-03T00:00:00.000Z' })
    // one pair's variants, without the pair each carries
    const variants = async (c: typeof content) => (await repos.deltas.variantsOf([c])).map(({ sourceSha256: _s, targetSha256: _t, ...v }) => v)
    t.same(await variants(content), [], 'none before a build')
    await repos.deltas.replaceVariants(content, [v('slipway-delta-v3', 3), v('slipway-delta-v2', 2)])
    await repos.deltas.replaceVariants(other, [v('slipway-delta-v2', 7)])
    t.same(await variants(content), [v('slipway-delta-v2', 2), v('slipway-delta-v3', 3)], 'by format; lengths over 4 GiB kept')
    await repos.deltas.replaceVariants(content, [v('slipway-delta-v2', 4)])
    t.same(await variants(content), [v('slipway-delta-v2', 4)], 'a rebuild replaces every variant of the pair')
    await repos.deltas.updateVariantMetadata(content, 'slipway-delta-v2', '{"m":"new"}', '2026-12-04T00:00:00.000Z')
    t.same(await variants(content), [{ ...v('slipway-delta-v2', 4), metadata: '{"m":"new"}', updatedAt: '2026-12-04T00:00:00.000Z' }])
    t.same(await variants(other), [v('slipway-delta-v2', 7)], 'other pairs untouched')
    const none = { sourceSha256: 'e4'.repeat(32), targetSha256: 'e2'.repeat(32) }
    t.same(
      await repos.deltas.variantsOf([other, content, none, content]),
      [{ ...content, ...v('slipway-delta-v2', 4), metadata: '{"m":"new"}', updatedAt: '2026-12-04T00:00:00.000Z' }, { ...other, ...v('slipway-delta-v2', 7) }],
      'several pairs in one query, each variant with its pair; a pair listed twice counts once, a pair with none adds none',
    )
    t.same(await repos.deltas.variantsOf([]), [], 'an empty listing asks nothing')
    t.same(await repos.deltas.variantsOf([{ sourceSha256: content.targetSha256, targetSha256: content.sourceSha256 }]), [], 'a pair is matched as a whole, source and target')
    await repos.deltas.replaceVariants(content, [])
    t.same(await variants(content), [])
  })

  t.test('ping', async (t) => {
    await t.resolves(repos.ping())
  })
}
