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
import { call } from '../helpers/api.js'
import { freshPostgres } from '../helpers/postgres.js'
import { startServer } from '../helpers/server.js'

t.test('two replicas bootstrap one dev root', async (t) => {
  const pg = await freshPostgres()
  t.teardown(() => pg.drop())
  const keys = await mkdtemp(join(tmpdir(), 'slipway-shared-keys-'))
  t.teardown(() => rm(keys, { recursive: true, force: true }))
  const env = { DATABASE_URL: pg.url, SLIPWAY_KEYS_DIR: join(keys, 'keys') }
  const [a, b] = await Promise.all([startServer(env), startServer(env)])
  t.teardown(() => a.close())
  t.teardown(() => b.close())
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
