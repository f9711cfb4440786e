import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ModelError, ModelStore } from '../../../client-sdk/src/models/index.js'

const root = await mkdtemp(join(tmpdir(), 'slipway-models-'))
t.teardown(() => rm(root, { recursive: true, force: true }))
let n = 0
const newStore = async (fileName = 'model.bin') => {
  const dir = join(root, String(n++))
  await mkdir(dir)
  return new ModelStore({ dir, fileName })
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
async function* chunks(b: Buffer, size = 65536) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size)
}
const code = async (p: Promise<unknown>) => p.then(() => 'no error', (e: unknown) => (e instanceof ModelError ? e.code : `not a ModelError: ${String(e)}`))

t.test('install into the inactive slot, swap current, keep previous, roll back', async (t) => {
  const store = await newStore()
  const m1 = randomBytes(100_000)
  const m2 = randomBytes(120_000)
  t.equal(await store.inactive(), 'a', 'fresh store installs into a')
  const man = await store.install('a', chunks(m1), { sha256: sha(m1), length: m1.length, name: 'llm', version: '1.0.0' })
  t.match(man, { sha256: sha(m1), length: m1.length, name: 'llm', version: '1.0.0' })
  await store.activate('a')
  t.same(await readFile(store.currentPath()), m1)
  t.equal(await readlink(join(store.dir, 'current')), 'a', 'relative link')

  t.equal(await store.inactive(), 'b')
  await writeFile(join(root, 'm2.bin'), m2)
  await store.install('b', join(root, 'm2.bin'), { sha256: sha(m2) })
  t.same(await readFile(store.currentPath()), m1, 'installing does not touch current')
  await store.activate('b')
  await store.activate('b')
  t.same(await readFile(store.currentPath()), m2)
  t.match(await store.status(), { current: 'b', previous: 'a', slots: { a: { sha256: sha(m1) }, b: { sha256: sha(m2) } } })

  t.equal(await store.rollback(), 'a')
  t.same(await readFile(store.currentPath()), m1)
  t.match(await store.status(), { current: 'a', previous: 'b' })
  t.same((await readdir(store.dir)).sort(), ['a', 'b', 'current', 'previous'], 'no temp links left')
})

t.test('a wrong hash or length leaves nothing behind; the current slot is never written', async (t) => {
  const store = await newStore()
  const m = randomBytes(50_000)
  t.equal(await code(store.install('a', chunks(m), { sha256: sha(randomBytes(8)) })), 'MODEL_HASH_MISMATCH')
  t.equal(await code(store.install('a', chunks(m), { sha256: sha(m), length: m.length + 1 })), 'MODEL_HASH_MISMATCH')
  t.same(await readdir(store.slotDir('a')), [], 'no temp file, no manifest')
  t.equal(await code(store.activate('a')), 'MODEL_NOT_INSTALLED')
  t.equal(await code(store.rollback()), 'MODEL_NO_PREVIOUS')
  await store.install('a', chunks(m), { sha256: sha(m) })
  await store.activate('a')
  t.equal(await code(store.install('a', chunks(m), { sha256: sha(m) })), 'MODEL_SLOT_IN_USE')
})

t.test('installing over the previous slot drops the previous link first', async (t) => {
  const store = await newStore()
  const [m1, m2, m3] = [randomBytes(1000), randomBytes(1000), randomBytes(1000)]
  await store.install('a', chunks(m1), { sha256: sha(m1) })
  await store.activate('a')
  await store.install('b', chunks(m2), { sha256: sha(m2) })
  await store.activate('b')
  // a crashed earlier install left a temp file; a failed install leaves the slot incomplete
  await writeFile(join(store.slotDir('a'), '.model.bin.dead.tmp'), 'partial')
  t.equal(await code(store.install('a', chunks(m3), { sha256: sha(m2) })), 'MODEL_HASH_MISMATCH')
  t.notOk((await store.status()).previous, 'rollback can no longer reach a slot being rewritten')
  t.equal(await code(store.activate('a')), 'MODEL_NOT_INSTALLED')
  await store.install('a', chunks(m3), { sha256: sha(m3) })
  t.same(await readdir(store.slotDir('a')).then((f) => f.sort()), ['manifest.json', 'model.bin'], 'stale temp removed')
})

t.test('a crash between the two link writes of activate is repaired by repeating it', async (t) => {
  const store = await newStore()
  const [m1, m2] = [randomBytes(1000), randomBytes(1000)]
  await store.install('a', chunks(m1), { sha256: sha(m1) })
  await store.activate('a')
  await store.install('b', chunks(m2), { sha256: sha(m2) })
  // activate('b') writes previous → a, then current → b; stop after the first
  const { writeSlotLink } = await import('../../../client-sdk/src/models/index.js')
  await writeSlotLink(store.dir, 'previous', 'a')
  t.match(await store.status(), { current: 'a', previous: 'a' })
  await new ModelStore({ dir: store.dir, fileName: 'model.bin' }).activate('b')
  t.match(await store.status(), { current: 'b', previous: 'a' })
})

t.test('a reader process resolving current while installs and swaps run always sees a complete model', async (t) => {
  const store = await newStore()
  const models = [randomBytes(3 << 20), randomBytes(2 << 20), randomBytes(4 << 20)]
  const hashes = models.map(sha)
  await store.install('a', chunks(models[0]!), { sha256: hashes[0]! })
  await store.activate('a')
  const stop = join(store.dir, '..', `stop-${n}`)
  // a separate process: really concurrent with the installs (2 cores)
  const reader = spawn(process.execPath, ['-e', READER, store.currentPath(), stop, hashes.join(',')], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  reader.stdout.on('data', (d: Buffer) => (out += d))
  const done = new Promise<void>((resolve) => reader.on('close', () => resolve()))
  const reads = () => (out.match(/^\.$/gm) ?? []).length * 10
  t.teardown(() => void reader.kill('SIGKILL'))
  for (let waited = 0; reads() === 0; waited += 10) {
    if (waited > 20_000) throw new Error(`reader never got going: ${out}`)
    await new Promise((r) => setTimeout(r, 10))
  }
  // at least 12 installs + swaps, and until the reader has read a few hundred times
  let installs = 0
  for (let i = 1; installs < 12 || (reads() < 300 && installs < 500); i++, installs++) {
    const m = i % models.length
    const slot = await store.inactive()
    await store.install(slot, chunks(models[m]!, 32768), { sha256: hashes[m]! })
    await store.activate(slot)
    if (i % 4 === 0) await store.rollback()
  }
  await writeFile(stop, '')
  await done
  const r = JSON.parse(out.split('\n').at(-1)!) as { reads: number; bad: number; errors: string[] }
  t.ok(r.reads >= 100, `${r.reads} reads during ${installs} installs`)
  t.equal(r.bad, 0, 'no read saw a partial or unknown model')
  t.same(r.errors, [], 'no read failed to resolve the model')
  t.equal((await lstat(join(store.dir, 'current'))).isSymbolicLink(), true)
})

const READER = `
const { readFileSync, existsSync } = require('node:fs')
const { createHash } = require('node:crypto')
const [path, stop, hashes] = process.argv.slice(1)
const valid = new Set(hashes.split(','))
let reads = 0, bad = 0, attempts = 0
const errors = []
const deadline = Date.now() + 120000 // never outlive a broken test
while (!existsSync(stop) && Date.now() < deadline) {
  try {
    const h = createHash('sha256').update(readFileSync(path)).digest('hex')
    reads++
    if (!valid.has(h)) bad++
  } catch (e) { errors.push(String(e.code || e)) }
  if (++attempts % 10 === 0) process.stdout.write('.\\n')
}
process.stdout.write(JSON.stringify({ reads, bad, errors: errors.slice(0, 10) }))
`
