import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openRepositories } from '../../server/adapters/db/index.js'
import { freshPostgres } from '../helpers/postgres.js'
import { repositoriesContract } from './repositories.contract.js'

t.test('sqlite', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-db-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  repositoriesContract(t, async () => {
    const repos = await openRepositories({ sqlitePath: join(dir, 'slipway.db') })
    t.equal(repos.dialect, 'sqlite')
    return repos
  })
})

t.test('postgres', async (t) => {
  const pg = await freshPostgres()
  t.teardown(() => pg.drop())
  repositoriesContract(t, async () => {
    const repos = await openRepositories({ databaseUrl: pg.url, sqlitePath: '/nonexistent/unused.db' })
    t.equal(repos.dialect, 'postgres')
    return repos
  })
})

t.test('migrations are idempotent and recorded', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-db-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { connectDatabase, migrateToLatest } = await import('../../server/adapters/db/index.js')
  const { db } = connectDatabase({ sqlitePath: join(dir, 'x.db') })
  t.teardown(() => db.destroy())
  const first = await migrateToLatest(db)
  t.ok(first.applied.includes('001_initial'))
  const second = await migrateToLatest(db)
  t.same(second.applied, [], 'nothing applied twice')
})

t.test('unreachable PostgreSQL is a clear DEPENDENCY_UNAVAILABLE on ping', async (t) => {
  const repos = await openRepositories({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none', sqlitePath: '', migrate: false })
  t.teardown(() => repos.close())
  await t.rejects(repos.ping(), { code: 'DEPENDENCY_UNAVAILABLE' })
})
