/**
 * Bad networks (issue 12 §6), each case reproduced on real loopback HTTP:
 * a link that drops every MiB still finishes (progress always counts, every
 * break checkpoints the bytes that arrived, a restart resumes from the last
 * durable byte); a server that drips its body or its poll answer is cut by the
 * minimum-throughput rule or the deadline with NETWORK_ERROR; a resume answered
 * with another release's bytes names that cause (DOWNLOAD_RESUME_MISMATCH).
 */
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { Checkpoint } from '../../../client-sdk/src/index.js'
import { fetchInto as fetchIntoChecked, tmpDir, type FetchOptions } from './download-fixtures.js'
import { fakeApi, offer, releaseOf, simDevice, trustKit } from './device-fixtures.js'
import { sendBlob, serve, sha256 } from './http-fixtures.js'

const MiB = 1 << 20
const data = randomBytes(6 * MiB + 321)
const expected = { sha256: sha256(data), length: data.length }

const tmp = (t: Test) => tmpDir(t, 'agent-net-')
const fetchInto = (path: string, o: FetchOptions) => fetchIntoChecked(path, expected, 5, o)

t.test('a connection that drops every 1 MiB finishes: progress never uses up the retries, every break is checkpointed', async (t) => {
  const state = { cuts: 0 }
  const srv = await serve((req, res) => sendBlob(req, res, data, { cutAfter: MiB, state }))
  t.teardown(srv.close)
  const out = join(await tmp(t), 'slot')
  const checkpoints: Checkpoint[] = []
  // one retry only and a checkpoint interval far above what one connection carries
  const r = await fetchInto(out, { url: new URL('/blob', srv.url), retries: 1, checkpointBytes: 64 * MiB, onCheckpoint: async (c) => void checkpoints.push(c) })
  t.ok((await readFile(out)).equals(data), 'the image is complete and correct')
  t.equal(r.requests, 7, 'one request per MiB')
  t.same(
    checkpoints.map((c) => c.offset),
    [1, 2, 3, 4, 5, 6].map((n) => n * MiB).concat(data.length),
    'each break made the bytes that arrived durable',
  )
})

t.test('after a restart the download resumes from the last durable byte, not from 0', async (t) => {
  const srv = await serve((req, res) => sendBlob(req, res, data, { cutAfter: MiB + 5000 }))
  t.teardown(srv.close)
  const out = join(await tmp(t), 'slot')
  const checkpoints: Checkpoint[] = []
  const err = await fetchInto(out, { url: new URL('/blob', srv.url), retries: 0, checkpointBytes: 64 * MiB, onCheckpoint: async (c) => void checkpoints.push(c) }).catch((e) => e)
  // the first request made progress, so it got a retry; the second broke off at the same length: no progress yet counted as such
  t.ok(['DOWNLOAD_TRUNCATED', 'NETWORK_ERROR'].includes(err.code) || err === undefined || err.sha256, `stopped or finished (${err?.code})`)
  const last = checkpoints.at(-1)!
  t.ok(last.offset > 0, `a durable offset was recorded (${last.offset})`)
  // "restart": a new call resumes from the checkpoint
  const served = await serve((req, res) => sendBlob(req, res, data))
  t.teardown(served.close)
  if (last.offset < data.length) {
    const r = await fetchInto(out, { url: new URL('/blob', served.url), resume: last })
    t.equal(r.resumedFrom, last.offset, 'resumed exactly at the last durable byte')
    t.equal(served.log[0]!.headers.range, `bytes=${last.offset}-`)
  }
  t.ok((await readFile(out)).equals(data))
})

t.test('a slow, flaky link (drops, throttled) still finishes an image', async (t) => {
  let n = 0
  const srv = await serve((req, res) => sendBlob(req, res, data, { cutAfter: 300_000 + (n++ % 3) * 100_000 }))
  t.teardown(srv.close)
  const out = join(await tmp(t), 'slot')
  const r = await fetchInto(out, { url: new URL('/blob', srv.url), retries: 2, bandwidthBytesPerSecond: 40 * MiB })
  t.ok((await readFile(out)).equals(data))
  t.ok(r.requests > 10, `${r.requests} requests`)
})

/** Headers, then one byte every `everyMs`: never ends on its own, never idle long enough for the idle timeout. */
function drip(everyMs: number) {
  return serve((req, res) => {
    res.writeHead(200, { 'content-length': data.length, etag: '"x"' })
    let at = 0
    const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(data.subarray(at, ++at))), everyMs)
    req.on('close', () => clearInterval(timer))
  })
}

t.test('slowloris body: the minimum-throughput rule cuts it with NETWORK_ERROR', async (t) => {
  const srv = await drip(100)
  t.teardown(srv.close)
  const err = await fetchInto(join(await tmp(t), 'slot'), { url: new URL('/blob', srv.url), retries: 1, minBytesPerSecond: 1000, lowSpeedWindowMs: 1000 }).catch((e) => e)
  t.equal(err.code, 'NETWORK_ERROR')
  t.match(err.message, /slower than 1000 B\/s/)
  t.equal(srv.log.length, 2, 'a too-slow answer is not progress: the retry budget is used up')
})

t.test('slowloris body: the overall deadline ends the download with NETWORK_ERROR, progress kept', async (t) => {
  const srv = await drip(50)
  t.teardown(srv.close)
  const checkpoints: Checkpoint[] = []
  const err = await fetchInto(join(await tmp(t), 'slot'), { url: new URL('/blob', srv.url), deadlineMs: 1500, onCheckpoint: async (c) => void checkpoints.push(c) }).catch((e) => e)
  t.equal(err.code, 'NETWORK_ERROR')
  t.match(err.message, /did not finish within 2 s|did not finish within 1 s/)
  t.ok(checkpoints.at(-1)!.offset > 0, 'the dripped bytes were checkpointed')
})

t.test('slowloris poll answer: the request deadline ends the tick with NETWORK_ERROR (the run loop backs off)', async (t) => {
  const api = await fakeApi(t, await trustKit())
  const imageA = Buffer.alloc(1000, 1)
  const dev = await simDevice(t, api, { imageA, installed: releaseOf(imageA, { version: '1.0.0' }), config: { requestDeadlineSeconds: 1 } })
  await dev.powerCycle()
  const real = api.server.listeners('request')[0] as (...a: unknown[]) => void
  api.server.removeAllListeners('request')
  api.server.on('request', (req, res) => {
    if (req.url !== '/v1/device/update') return real(req, res)
    res.writeHead(200, { 'content-type': 'application/json' })
    const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(' ')), 100)
    req.on('close', () => clearInterval(timer))
  })
  const started = Date.now()
  const err = await dev.agent.tick().catch((e) => e)
  t.equal(err.code, 'NETWORK_ERROR')
  t.match(err.message, /no complete answer within 1 s/)
  t.ok(Date.now() - started < 30_000, 'it did not wait for the server')
})

t.test("another release's bytes on a resume: DOWNLOAD_RESUME_MISMATCH (not SERVER_REJECTED), checkpoint back to 0", async (t) => {
  const other = randomBytes(MiB)
  const srv = await serve((req, res) => {
    // the URL now serves a shorter, other object: the resume range is not satisfiable
    if (req.headers.range) return void res.writeHead(416, { 'content-range': `bytes */${other.length}` }).end()
    sendBlob(req, res, other)
  })
  t.teardown(srv.close)
  const sinkPath = join(await tmp(t), 'slot')
  await writeFile(sinkPath, data.subarray(0, 2 * MiB)) // what an earlier run made durable
  const checkpoints: Checkpoint[] = []
  const err = await fetchInto(sinkPath, { url: new URL('/blob', srv.url), resume: { offset: 2 * MiB, etag: `"${expected.sha256}"` }, onCheckpoint: async (c) => void checkpoints.push(c) }).catch((e) => e)
  t.equal(err.code, 'DOWNLOAD_RESUME_MISMATCH')
  t.match(err.message, /resuming at byte 2097152 .* 416/)
  t.same(checkpoints, [{ offset: 0 }], 'the next attempt starts over')
})

t.test('the agent: a resume mismatch is transient, the next tick starts over and the update finishes', async (t) => {
  const api = await fakeApi(t, await trustKit())
  const imageA = Buffer.alloc(1000, 1)
  const imageB = randomBytes(3 * MiB)
  const dev = await simDevice(t, api, {
    imageA,
    installed: releaseOf(imageA, { version: '1.0.0' }),
    config: { download: { retries: 0, retryDelayMs: 5, maxAttempts: 3, checkpointBytes: 64 * MiB } },
  })
  await offer(api, { image: imageB, release: releaseOf(imageB) })
  let phase = 0
  api.blobRoute = (req, res) => {
    if (phase === 0) {
      phase = 1
      return sendBlob(req, res, imageB, { cutAfter: MiB }) // the first connection breaks after 1 MiB
    }
    if (phase === 1 && req.headers.range) {
      phase = 2
      return void res.writeHead(416, { 'content-range': 'bytes */10' }).end()
    }
    return sendBlob(req, res, imageB)
  }
  t.equal((await dev.agent.tick()).outcome, 'retry-later', 'the mismatch ends this tick')
  t.equal((await dev.agent.status()).journal.update?.download?.offset, 0, 'the checkpoint went back to 0')
  t.equal((await dev.agent.tick()).outcome, 'reboot-issued', 'the next tick downloads it whole')
  t.ok((await dev.slot('b')).equals(imageB))
})
