/**
 * Replicas that start together on one fresh database with a shared keys folder
 * (SLIPWAY_KEYS_DIR) agree on one dev root and one online key; a replica with its
 * own, different key folder is refused with ONLINE_KEY_NOT_IN_ROOT instead of
 * signing what devices would reject.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { FileKeySigner } from '../../signing/index.js'
import { openRepositories } from '../../server/adapters/db/index.js'
import { ensureDevRoot } from '../../server/adapters/signer/dev-root.js'
import { TrustService } from '../../server/domain/trust/trust-service.js'
import { call } from '../helpers/api.js'
import { freshPostgres } from '../helpers/postgres.js'
import { startServer, type TestServer } from '../helpers/server.js'

t.test('two replicas bootstrap one dev root', async (t) => {
  const pg = await freshPostgres()
  t.teardown(() => pg.drop())
  const keys = await mkdtemp(join(tmpdir(), 'slipway-shared-keys-'))
  t.teardown(() => rm(keys, { recursive: true, force: true }))
  const env = { DATABASE_URL: pg.url, SLIPWAY_KEYS_DIR: join(keys, 'keys') }
  const started = await Promise.allSettled([startServer(env), startServer(env)])
  for (const s of started) if (s.status === 'fulfilled') t.teardown(() => s.value.close())
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed) throw failed.reason
  const [a, b] = started.map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<typeof startServer>>>).value) as [TestServer, TestServer]
  t.equal(a.container.onlineSigner.keyId, b.container.onlineSigner.keyId, 'one online key')
  t.equal(await a.container.trust.latestVersion(), 1, 'one root version')
  const fromA = await call(a, undefined, 'GET', '/v1/trust/root/1.json')
  const fromB = await call(b, undefined, 'GET', '/v1/trust/root/1.json')
  t.ok(fromA.raw.equals(fromB.raw), 'both serve the same root')
  t.equal([a.container.devRoot, b.container.devRoot].filter(Boolean).length, 1, 'exactly one of them created it')

  const own = await mkdtemp(join(tmpdir(), 'slipway-own-keys-'))
  t.teardown(() => rm(own, { recursive: true, force: true }))
  await FileKeySigner.generate('ed25519').save(join(own, 'online.pem'))
  await t.rejects(startServer({ DATABASE_URL: pg.url, SLIPWAY_KEYS_DIR: own }), { code: 'ONLINE_KEY_NOT_IN_ROOT' })
})

t.test('a replica that loses the bootstrap race between its check and its insert backs off', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-race-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const repos = await openRepositories({ sqlitePath: join(dir, 'slipway.db') })
  t.teardown(() => repos.close())
  const trust = new TrustService(repos.roots)
  const won = await ensureDevRoot({ dir: join(dir, 'a') }, join(dir, 'a', 'online.pem'), trust)
  t.ok(won, 'the first replica creates root v1')
  /** saw no root when it checked, as if the winner's insert landed just after */
  class Late extends TrustService {
    #checked = false
    override async latestVersion() {
      if (this.#checked) return super.latestVersion()
      this.#checked = true
      return undefined
    }
  }
  const lost = await ensureDevRoot({ dir: join(dir, 'b') }, join(dir, 'b', 'online.pem'), new Late(repos.roots))
  t.equal(lost, undefined, 'no error, no second dev root announced')
  t.equal((await trust.chain()).length, 1, 'still one root version')
})
