/** The streaming hash is used only when it provably covers the bytes on disk. */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import t, { type Test } from 'tap'
import { ERRORS, Upload } from '@tus/utils'
import { TusUploadArea } from '../../server/adapters/uploads/tus-upload-area.js'

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

async function area(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-hfs-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return new TusUploadArea(dir, 3600_000)
}

t.test('one PATCH or many in order: the streaming hash is offered', async (t) => {
  const a = await area(t)
  const data = randomBytes(1_000_000)
  await a.store.create(new Upload({ id: 'u1', size: data.length, offset: 0 }))
  let offset = 0
  for (const part of [data.subarray(0, 300_000), data.subarray(300_000, 700_000), data.subarray(700_000)])
    offset = await a.store.write(Readable.from([part]), 'u1', offset)
  t.equal(offset, data.length)
  const staged = await a.get('u1')
  t.equal(staged?.sha256, sha(data))
})

t.test('a PATCH at an offset this process did not see: no streaming hash, so the file is re-hashed', async (t) => {
  const a = await area(t)
  const data = randomBytes(100_000)
  await a.store.create(new Upload({ id: 'u2', size: data.length, offset: 0 }))
  const other = new TusUploadArea(a.directory, 3600_000) // another replica wrote the first half
  await other.store.write(Readable.from([data.subarray(0, 50_000)]), 'u2', 0)
  await a.store.write(Readable.from([data.subarray(50_000)]), 'u2', 50_000)
  const staged = await a.get('u2')
  t.equal(staged?.offset, data.length)
  t.equal(staged?.sha256, undefined)
})

t.test('a PATCH that fails part-way drops the hash', async (t) => {
  const a = await area(t)
  const data = randomBytes(100_000)
  await a.store.create(new Upload({ id: 'u3', size: data.length, offset: 0 }))
  let sent = 0
  const broken = new Readable({
    read() {
      // a few chunks reach the disk, then the client goes away
      if (sent >= 40_000) return void setTimeout(() => this.destroy(new Error('client went away')), 20)
      this.push(data.subarray(sent, sent + 10_000))
      sent += 10_000
    },
  })
  // tus rejects with its ERRORS table entry (status and body), not an Error with a code
  const failed = await a.store.write(broken, 'u3', 0).then(() => 'written', (e: unknown) => e)
  t.same(failed, ERRORS.FILE_WRITE_ERROR, 'the broken stream fails the write with tus FILE_WRITE_ERROR')
  const { size } = await import('node:fs/promises').then((fs) => fs.stat(join(a.directory, 'u3')))
  await a.store.write(Readable.from([data.subarray(size)]), 'u3', size)
  const staged = await a.get('u3')
  t.equal(staged?.offset, data.length)
  // whatever reached the disk before the failure, an offered hash must be the right one
  if (size > 0) t.equal(staged?.sha256, undefined, `resumed at ${size} after a failure: re-hash at bind`)
  else t.equal(staged?.sha256, sha(data), 'nothing reached the disk: the retry from 0 hashed everything')
})
