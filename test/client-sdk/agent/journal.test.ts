import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Journal } from '../../../client-sdk/src/index.js'
import { release } from '../../signing/fixtures.js'

async function tmp(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'agent-journal-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('an absent journal opens empty and writes nothing until the first change', async (t) => {
  const dir = await tmp(t)
  const j = await Journal.open(join(dir, 'journal.json'))
  t.same(j.state, { format: 1, models: {}, securityVersion: 0 })
  t.same(await readdir(dir), [])
})

t.test('each step is on disk before it is visible, and survives a reopen', async (t) => {
  const path = join(await tmp(t), 'journal.json')
  const j = await Journal.open(path)
  await j.change((s) => {
    s.lastCounter = 7
    s.update = { id: 'u1', step: 'accepted', counter: 7, rolloutId: 'ro', action: 'install', release: release(), mode: 'full', artifact: { url: '/b', length: 3 }, at: '' }
  })
  await j.step('downloading', { targetSlot: 'b', download: { offset: 0 } })
  await j.step('written')
  const again = await Journal.open(path)
  t.equal(again.update?.step, 'written')
  t.equal(again.update?.targetSlot, 'b')
  t.equal(again.state.lastCounter, 7)
  t.same(JSON.parse(await readFile(path, 'utf8')), again.state)
  t.same((await readdir(join(path, '..'))).filter((n) => n.includes('.tmp')), [], 'no temp file left behind')
})

t.test('a failed write leaves memory and disk at the previous step', async (t) => {
  const dir = await tmp(t)
  const path = join(dir, 'journal.json')
  const j = await Journal.open(path)
  await j.change((s) => void (s.lastCounter = 1))
  await rm(dir, { recursive: true, force: true }) // the folder is gone: the temp file cannot be created
  await t.rejects(j.change((s) => void (s.lastCounter = 2)), { code: 'ENOENT' }, 'the temp file cannot be created')
  t.equal(j.state.lastCounter, 1)
})

t.test('a file that is not a journal is JOURNAL_CORRUPT, not silently reset', async (t) => {
  const dir = await tmp(t)
  await writeFile(join(dir, 'a.json'), '{"format":1,"models":')
  await t.rejects(Journal.open(join(dir, 'a.json')), { code: 'JOURNAL_CORRUPT' })
  await writeFile(join(dir, 'b.json'), '{"format":9}')
  await t.rejects(Journal.open(join(dir, 'b.json')), { code: 'JOURNAL_CORRUPT' })
})
