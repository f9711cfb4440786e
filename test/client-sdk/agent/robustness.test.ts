/**
 * Full disks, shutdowns and what operators see (issue 12 §6), each reproduced:
 * a full data folder ends in DATA_NO_SPACE with the failure report sent (a
 * real 1 MiB tmpfs as the data folder); SIGTERM during a download stops the
 * real agent process at the next safe point within 5 s, checkpointed, and the
 * next start resumes; progress shows in `status` and goes to the server as
 * throttled `downloading` events; staging left by a kill is cleaned at start-up.
 */
import { execFile, execFileSync, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createAgent, silentLog } from '../../../client-sdk/src/index.js'
import { sampleSpoolDelta } from '../delta-fixtures.js'
import { buildBundle } from './bundle.js'
import { fakeApi, offer, releaseOf, simDevice, trustKit } from './device-fixtures.js'
import { sendBlob } from './http-fixtures.js'

const MiB = 1 << 20
const imageA = Buffer.alloc(4096, 1)
const installed = releaseOf(imageA, { version: '1.0.0' })

/** A real, tiny filesystem for the data folder (needs root, as the tests run here; fails loudly otherwise). */
async function tinyDataDir(t: Test, bytes: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-tiny-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir])
  t.teardown(async () => {
    execFileSync('umount', ['-l', dir])
    await rm(dir, { recursive: true, force: true })
  })
  return dir
}

/** A device that takes models, its data folder (credential included) moved onto a tiny filesystem of `bytes`. */
async function deviceOnTinyDisk(t: Test, api: Awaited<ReturnType<typeof fakeApi>>, bytes: number) {
  const tiny = await tinyDataDir(t, bytes)
  const data = join(tiny, 'data')
  const models = await mkdtemp(join(tmpdir(), 'agent-models-'))
  t.teardown(() => rm(models, { recursive: true, force: true }))
  const dev = await simDevice(t, api, { imageA, installed, config: { models: { dir: models } } })
  await mkdir(data, { mode: 0o700 })
  await writeFile(join(data, 'credential.json'), await readFile(join(dev.config.dataDir, 'credential.json')), { mode: 0o600 })
  Object.assign(dev.config, { dataDir: data })
  await dev.powerCycle()
  return { dev, tiny, data }
}

t.test('a download that cannot fit the data folder: DATA_NO_SPACE before it starts, and the failure is reported', async (t) => {
  const api = await fakeApi(t, await trustKit())
  const { dev } = await deviceOnTinyDisk(t, api, MiB)
  const model = randomBytes(2 * MiB)
  await offer(api, { image: model, release: releaseOf(model, { name: 'llm', version: '2.0.0', kind: 'model' }) })
  t.equal((await dev.agent.tick()).outcome, 'failed')
  t.match(api.events.at(-1), { state: 'failed', reason: { code: 'DATA_NO_SPACE', message: /needs 2097152/ } }, 'the failure report went out')
  t.notOk(api.log.some((r) => r.path.startsWith('/v1/blobs/')), 'nothing was downloaded')
})

t.test('the data folder fills during a download: DATA_NO_SPACE (not raw ENOSPC), staging freed, the report still goes out', async (t) => {
  const api = await fakeApi(t, await trustKit())
  const { dev, tiny, data } = await deviceOnTinyDisk(t, api, 2 * MiB)
  const model = randomBytes(1200 * 1024)
  await offer(api, { image: model, release: releaseOf(model, { name: 'llm', version: '2.0.0', kind: 'model' }) })
  api.blobRoute = (req, res) => {
    res.writeHead(200, { 'content-length': model.length })
    res.write(model.subarray(0, 100_000))
    // something else fills the disk while the download runs
    setTimeout(async () => {
      await writeFile(join(tiny, 'filler'), Buffer.alloc(2 * MiB)).catch(() => undefined)
      res.end(model.subarray(100_000))
    }, 200)
  }
  t.equal((await dev.agent.tick()).outcome, 'failed')
  t.match(api.events.at(-1), { state: 'failed', reason: { code: 'DATA_NO_SPACE' } }, 'the failure report went out')
  t.notOk(existsSync(join(data, 'staging')), 'staging was freed')
  t.match((await dev.agent.status()).journal.update, { step: 'failed', reported: true })
})

t.test('a spooled member (a gzip kernel) whose spool file does not fit the data folder: DATA_NO_SPACE, not the slot’s', async (t) => {
  const api = await fakeApi(t, await trustKit())
  const { source, target, patch } = await sampleSpoolDelta()
  const tiny = await tinyDataDir(t, 768 * 1024)
  const data = join(tiny, 'data')
  const dev = await simDevice(t, api, { imageA: source, installed: releaseOf(source, { version: '1.0.0' }) })
  await mkdir(data, { mode: 0o700 })
  await writeFile(join(data, 'credential.json'), await readFile(join(dev.config.dataDir, 'credential.json')), { mode: 0o600 })
  Object.assign(dev.config, { dataDir: data })
  await dev.powerCycle()
  // the patch fits (a few KB, with the 256 KiB the agent keeps free); the spool file holds the member four ways (~1.5 MB)
  t.ok(patch.length < 64 * 1024, `patch ${patch.length} B`)
  await offer(api, { image: target, release: releaseOf(target), patch: { bytes: patch, sourceSha256: createHash('sha256').update(source).digest('hex') } })
  t.equal((await dev.agent.tick()).outcome, 'failed')
  t.match(api.events.at(-1), { state: 'failed', reason: { code: 'DATA_NO_SPACE', message: /spooled member/ } }, 'the data folder is named, not the slot')
  t.notOk(existsSync(join(data, 'staging')), 'staging was freed')
})

t.test('progress shows in status and goes to the server as throttled downloading events', async (t) => {
  const api = await fakeApi(t, await trustKit())
  const dev = await simDevice(t, api, { imageA, installed })
  const image = randomBytes(8 * MiB)
  await offer(api, { image, release: releaseOf(image) })
  let seen: any
  api.blobRoute = (req, res) => {
    res.writeHead(200, { 'content-length': image.length, etag: '"p"' })
    let at = 0
    const step = () => {
      if (res.destroyed) return
      if (at >= image.length) return void res.end()
      res.write(image.subarray(at, (at += 512 * 1024)))
      setTimeout(step, 60)
    }
    step()
  }
  const ticking = dev.agent.tick()
  for (let i = 0; i < 200 && !seen; i++) {
    await new Promise((r) => setTimeout(r, 50))
    const st = await dev.agent.status()
    if (st.progress && st.progress.bytes > 0 && st.progress.bytes < image.length) seen = st.progress
  }
  t.equal((await ticking).outcome, 'reboot-issued')
  t.match(seen, { total: image.length, release: 'edge-os@2.0.0' }, 'status showed the download under way')
  const progress = api.events.filter((e) => e.progress)
  t.ok(progress.length >= 2, `${progress.length} progress events`)
  t.ok(progress.length <= 20, 'no more than one per 5% (the download took well under 10 s per step)')
  t.ok(progress.every((e, i) => e.state === 'downloading' && e.progress.total === image.length && (i === 0 || e.progress.bytes > progress[i - 1].progress.bytes)), 'growing byte counts')
  t.ok(new Set(progress.map((e) => e.id)).size === progress.length, 'each has its own id (the server counts each once)')
})

t.test('a patch left in staging by a kill just after the commit is removed at start-up', async (t) => {
  const api = await fakeApi(t, await trustKit())
  const dev = await simDevice(t, api, { imageA, installed })
  const image = randomBytes(100_000)
  await offer(api, { image, release: releaseOf(image) })
  await dev.agent.tick()
  await dev.powerCycle()
  t.equal((await dev.agent.tick()).outcome, 'committed')
  const staging = join(dev.config.dataDir, 'staging')
  await mkdir(staging, { recursive: true })
  await writeFile(join(staging, 'patch-leftover.bin'), Buffer.alloc(1000))
  dev.agent.close()
  dev.agent = await createAgent(dev.config, { log: silentLog })
  t.notOk(existsSync(staging), 'staging is gone')
})

t.test('SIGTERM during a download: the agent stops at the next safe point within 5 s, checkpointed; the next start resumes', async (t) => {
  const { path: bundle } = await buildBundle(t)
  const api = await fakeApi(t, await trustKit())
  const dev = await simDevice(t, api, { imageA, installed, config: { download: { retries: 0, retryDelayMs: 10, maxAttempts: 3, checkpointBytes: 64 * MiB } } })
  dev.agent.close()
  const image = randomBytes(16 * MiB)
  await offer(api, { image, release: releaseOf(image) })
  let slow = true
  api.blobRoute = (req, res) => {
    if (!slow) return sendBlob(req, res, image)
    res.writeHead(200, { 'content-length': image.length, etag: `"${releaseOf(image).sha256}"` })
    let at = 0
    const step = () => {
      if (res.destroyed) return
      res.write(image.subarray(at, (at += 256 * 1024)))
      if (at < 12 * MiB) setTimeout(step, 100)
    }
    step()
  }
  const configFile = join(dev.dir, 'agent.json')
  await writeFile(configFile, JSON.stringify({ ...dev.config, logLevel: 'error' }))
  const child = spawn(process.execPath, [bundle, 'run', '--config', configFile], { stdio: 'ignore' })
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  const journal = async () => JSON.parse(await readFile(join(dev.config.dataDir, 'journal.json'), 'utf8').catch(() => '{}'))
  // wait until it is well into the download
  for (let i = 0; i < 300; i++) {
    await new Promise((r) => setTimeout(r, 100))
    const p = await readFile(join(dev.config.dataDir, 'progress.json'), 'utf8').catch(() => undefined)
    if (p && JSON.parse(p).bytes >= 2 * MiB) break
  }
  const sent = Date.now()
  child.kill('SIGTERM')
  const code = await exited
  const took = Date.now() - sent
  t.equal(code, 0, 'a clean exit')
  t.ok(took < 5000, `exited ${took} ms after SIGTERM`)
  const j = await journal()
  t.equal(j.update.step, 'downloading', 'stopped before the slot was marked to try')
  t.ok(j.update.download.offset >= 2 * MiB, `the bytes so far were checkpointed (${j.update.download.offset})`)
  t.equal(j.update.attempts ?? 0, 0, 'a shutdown is not a failed attempt')
  t.match(await dev.slotState(), { active: 'a', booted: 'a' })
  t.equal((await dev.slotState()).trying, undefined, 'no trial marked')
  // the next start resumes where it stopped
  slow = false
  const before = api.log.length
  // not execFileSync: the device API answers from this process
  const again = await promisify(execFile)(process.execPath, [bundle, 'run', '--once', '--config', configFile], { encoding: 'utf8' })
  t.match(JSON.parse(again.stdout.trim().split('\n').at(-1)!), { outcome: 'reboot-issued' })
  const resumed = api.log.slice(before).find((r) => r.path.startsWith('/v1/blobs/'))
  t.equal(resumed?.headers.range, `bytes=${j.update.download.offset}-`, 'resumed at the checkpoint')
  t.ok((await dev.slot('b')).equals(image))
})
