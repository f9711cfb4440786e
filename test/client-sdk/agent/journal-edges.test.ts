/**
 * What the journal promises beyond the round trip (client-sdk/src/journal/journal.ts):
 * the step order and which steps are terminal, each shape check on its own, what a
 * corrupt journal's refusal carries, and that a fresh journal shares nothing with the
 * next. Written for the surviving mutants of `npm run mutate -- --area agent`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Journal, TERMINAL_STEPS, UPDATE_STEPS } from '../../../client-sdk/src/index.js'
import { installedOf } from '../../../client-sdk/src/journal/journal.js'
import { release } from '../../signing/fixtures.js'

async function tmp(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'agent-journal-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const refusal = async (p: Promise<unknown>) => {
  try {
    await p
    return { code: 'accepted' }
  } catch (e) {
    const x = e as { code?: string; message: string; details?: unknown; cause?: unknown }
    return { code: x.code, message: x.message, details: x.details, cause: x.cause }
  }
}

t.test('the steps, in order, and the terminal ones', async (t) => {
  t.same(
    [...UPDATE_STEPS],
    ['accepted', 'downloading', 'written', 'verified', 'marked-try', 'rebooting', 'health-checking', 'committed', 'rolled-back', 'failed'],
  )
  t.same([...TERMINAL_STEPS].sort(), ['committed', 'failed', 'rolled-back'])
})

t.test('installedOf keeps exactly the four fields a device reports', async (t) => {
  const r = release()
  t.same(installedOf(r), { name: r.name, version: r.version, sha256: r.sha256, securityVersion: r.securityVersion })
})

t.test('each shape check refuses on its own, naming the file', async (t) => {
  const dir = await tmp(t)
  const shapes: Record<string, unknown> = {
    'format.json': { format: 2, models: {}, securityVersion: 0 },
    'models.json': { format: 1, models: 'none', securityVersion: 0 },
    'security.json': { format: 1, models: {}, securityVersion: '0' },
  }
  for (const [name, doc] of Object.entries(shapes)) {
    const path = join(dir, name)
    await writeFile(path, JSON.stringify(doc))
    t.match(await refusal(Journal.open(path)), { code: 'JOURNAL_CORRUPT', message: `journal ${path} has an unknown shape`, details: { path } }, name)
  }
  const ok = join(dir, 'ok.json')
  await writeFile(ok, JSON.stringify({ format: 1, models: {}, securityVersion: 3 }))
  t.equal((await Journal.open(ok)).state.securityVersion, 3, 'a well-formed journal opens')
})

t.test('a journal that is not JSON keeps the parser error as its cause', async (t) => {
  const path = join(await tmp(t), 'j.json')
  await writeFile(path, '{"format":1,')
  const r = await refusal(Journal.open(path))
  t.match(r, { code: 'JOURNAL_CORRUPT', message: `journal ${path} is not JSON`, details: { path } })
  t.type(r.cause, SyntaxError)
})

t.test('two fresh journals share no state', async (t) => {
  const dir = await tmp(t)
  const a = await Journal.open(join(dir, 'a.json'))
  await a.change((s) => {
    s.models.m = { name: 'm', version: '1', sha256: 'x', securityVersion: 0 }
  })
  const b = await Journal.open(join(dir, 'b.json'))
  t.same(b.state, { format: 1, models: {}, securityVersion: 0 })
})

t.test('step needs an update in progress, merges fields and stamps the time', async (t) => {
  const j = await Journal.open(join(await tmp(t), 'j.json'))
  t.match(await refusal(j.step('written')), { message: 'no update in progress' })
  t.equal(j.update, undefined)
  await j.change((s) => {
    s.update = { id: 'u', step: 'accepted', counter: 1, rolloutId: 'r', action: 'install', release: release(), mode: 'full', artifact: { url: '/a', length: 1 }, at: '' }
  })
  const before = Date.now()
  await j.step('downloading', { targetSlot: 'b' })
  t.equal(j.update?.step, 'downloading')
  t.equal(j.update?.targetSlot, 'b')
  t.equal(j.update?.id, 'u', 'other fields kept')
  const at = Date.parse(j.update?.at ?? '')
  t.ok(at >= before - 1000 && at <= Date.now() + 1000, `at is now (${j.update?.at})`)
})
