import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { download, HttpClient, type Checkpoint } from '../../../client-sdk/src/index.js'
import { slotSink } from '../../../client-sdk/src/install/slot-sink.js'
import { fetchInto as fetchIntoChecked, tmpDir, type FetchOptions } from './download-fixtures.js'
import { sendBlob, serve, sha256 } from './http-fixtures.js'

const data = randomBytes(3 * 1024 * 1024 + 123)
const expected = { sha256: sha256(data), length: data.length }
const code = (e: unknown) => (e as { code?: string }).code

const tmp = (t: Test) => tmpDir(t, 'agent-dl-')
const fetchInto = (path: string, o: FetchOptions) => fetchIntoChecked(path, expected, 10, o)

t.test('downloads, hashes and writes the whole body', async (t) => {
  const srv = await serve((req, res) => sendBlob(req, res, data))
  t.teardown(srv.close)
  const out = join(await tmp(t), 'slot')
  const r = await fetchInto(out, { url: new URL('/blob', srv.url), headers: { authorization: 'Bearer sld_x' } })
  t.ok((await readFile(out)).equals(data))
  t.equal(r.requests, 1)
  t.equal(srv.log[0]!.headers.authorization, 'Bearer sld_x')
})

t.test('resumes with Range + If-Range after the connection drops mid-body', async (t) => {
  const state = { cuts: 0 }
  const srv = await serve((req, res) => sendBlob(req, res, data, { cutAfter: 1_500_000, cutTimes: 2, state }))
  t.teardown(srv.close)
  const out = join(await tmp(t), 'slot')
  const r = await fetchInto(out, { url: new URL('/blob', srv.url) })
  t.ok((await readFile(out)).equals(data), 'image complete and correct')
  t.equal(r.requests, 3)
  t.match(srv.log[1]!.headers.range, /^bytes=\d+-$/)
  t.equal(srv.log[1]!.headers['if-range'], `"${expected.sha256}"`)
  const from = (i: number) => Number(/\d+/.exec(srv.log[i]!.headers.range ?? '')?.[0])
  t.ok(from(2) > from(1), 'second resume starts further on')
})

t.test('resumes after a restart from a checkpoint, re-hashing the prefix already in the slot', async (t) => {
  const srv = await serve((req, res) => sendBlob(req, res, data))
  t.teardown(srv.close)
  const out = join(await tmp(t), 'slot')
  const at = 2 * 1024 * 1024
  await writeFile(out, data.subarray(0, at))
  const r = await fetchInto(out, { url: new URL('/blob', srv.url), resume: { offset: at, etag: `"${expected.sha256}"` } })
  t.equal(r.resumedFrom, at)
  t.equal(srv.log[0]!.headers.range, `bytes=${at}-`)
  t.ok((await readFile(out)).equals(data))
})

t.test('a prefix that changed on disk since the checkpoint fails the hash instead of being trusted', async (t) => {
  const srv = await serve((req, res) => sendBlob(req, res, data))
  t.teardown(srv.close)
  const out = join(await tmp(t), 'slot')
  const at = 1024 * 1024
  const bad = Buffer.from(data.subarray(0, at))
  bad[10] = 0xff - bad[10]!
  await writeFile(out, bad)
  await t.rejects(fetchInto(out, { url: new URL('/blob', srv.url), resume: { offset: at } }), { code: 'PAYLOAD_HASH_MISMATCH' })
})

t.test('a changed validator (If-Range fails) gets a 200 and the download starts over', async (t) => {
  const srv = await serve((req, res) => sendBlob(req, res, data))
  t.teardown(srv.close)
  const out = join(await tmp(t), 'slot')
  // a prefix from another version of the resource: the server's 200 replaces it from byte 0
  await writeFile(out, Buffer.alloc(1024 * 1024, 7))
  const r = await fetchInto(out, { url: new URL('/blob', srv.url), resume: { offset: 1024 * 1024, etag: '"old"' } })
  t.equal(srv.log.at(-1)!.headers['if-range'], '"old"')
  t.equal(r.requests, 1)
  t.ok((await readFile(out)).equals(data))
})

t.test('checkpoints are reported after sync, increasing, ending at the length', async (t) => {
  const srv = await serve((req, res) => sendBlob(req, res, data))
  t.teardown(srv.close)
  const seen: Checkpoint[] = []
  await fetchInto(join(await tmp(t), 'slot'), { url: new URL('/blob', srv.url), checkpointBytes: 1 << 20, onCheckpoint: async (c) => void seen.push(c) })
  t.ok(seen.length >= 3)
  t.same(seen.at(-1), { offset: data.length, etag: `"${expected.sha256}"` })
  t.ok(seen.every((c, i) => i === 0 || c.offset >= seen[i - 1]!.offset))
})

t.test('bandwidth cap slows the download to about the cap', async (t) => {
  const small = data.subarray(0, 600_000)
  const srv = await serve((req, res) => sendBlob(req, res, small))
  t.teardown(srv.close)
  const http = new HttpClient()
  t.teardown(() => http.close())
  const out = join(await tmp(t), 'slot')
  const sink = slotSink(out, { fresh: true })
  const started = Date.now()
  await download({ http, url: new URL('/blob', srv.url), expected: { sha256: sha256(small), length: small.length }, sink, bandwidthBytesPerSecond: 1_000_000 })
  await sink.close()
  const ms = Date.now() - started
  t.ok(ms >= 450, `took ${ms} ms for 600 kB at 1 MB/s`)
})

t.test('redirects: same origin followed with the credential; another host refused; an allowed host gets no credential', async (t) => {
  const other = await serve((req, res) => sendBlob(req, res, data))
  t.teardown(other.close)
  const srv = await serve((req, res) => {
    if (req.url === '/same') return void res.writeHead(302, { location: '/blob' }).end()
    if (req.url === '/away') return void res.writeHead(302, { location: `${other.url.replace('127.0.0.1', 'localhost')}/blob` }).end()
    sendBlob(req, res, data)
  })
  t.teardown(srv.close)
  const dir = await tmp(t)
  await fetchInto(join(dir, 's1'), { url: new URL('/same', srv.url), headers: { authorization: 'Bearer sld_x' } })
  t.equal(srv.log.at(-1)!.headers.authorization, 'Bearer sld_x')
  await t.rejects(fetchInto(join(dir, 's2'), { url: new URL('/away', srv.url), headers: { authorization: 'Bearer sld_x' } }), { code: 'DOWNLOAD_REDIRECT_REFUSED' })
  t.equal(other.log.length, 0, 'the other host was never contacted')
  const allowed = other.host.replace('127.0.0.1', 'localhost')
  await fetchInto(join(dir, 's3'), { url: new URL('/away', srv.url), headers: { authorization: 'Bearer sld_x' }, allowedRedirectHosts: [allowed] })
  t.equal(other.log.length, 1)
  t.equal(other.log[0]!.headers.authorization, undefined, 'credential not sent to the other host')
  t.ok((await readFile(join(dir, 's3'))).equals(data))
})

t.test('a body that always breaks off ends in DOWNLOAD_TRUNCATED after the retries', async (t) => {
  const srv = await serve((req, res) => sendBlob(req, res, data, { cutAfter: 1000, ignoreRange: true }))
  t.teardown(srv.close)
  const err = await fetchInto(join(await tmp(t), 'slot'), { url: new URL('/blob', srv.url), retries: 2 }).catch((e) => e)
  t.equal(code(err), 'DOWNLOAD_TRUNCATED')
  // the first request got further than any before (progress does not use up the budget); the 3 after it did not
  t.equal(srv.log.length, 4)
})

t.test('a body shorter than announced by the signed length is DOWNLOAD_TRUNCATED', async (t) => {
  const srv = await serve((_req, res) => void res.writeHead(200, { 'content-length': 1000 }).end(data.subarray(0, 1000)))
  t.teardown(srv.close)
  const err = await fetchInto(join(await tmp(t), 'slot'), { url: new URL('/blob', srv.url), retries: 0 }).catch((e) => e)
  t.equal(code(err), 'DOWNLOAD_TRUNCATED')
})

t.test('a body longer than the signed length is refused: announced, or streamed without a length', async (t) => {
  const longer = Buffer.concat([data, Buffer.alloc(4096, 1)])
  const announced = await serve((_req, res) => void res.writeHead(200, { 'content-length': longer.length }).end(longer))
  t.teardown(announced.close)
  t.equal(code(await fetchInto(join(await tmp(t), 'a'), { url: new URL('/x', announced.url) }).catch((e) => e)), 'DOWNLOAD_TOO_LONG')
  const chunked = await serve((_req, res) => {
    res.writeHead(200, { 'transfer-encoding': 'chunked' })
    res.end(longer)
  })
  t.teardown(chunked.close)
  t.equal(code(await fetchInto(join(await tmp(t), 'b'), { url: new URL('/x', chunked.url) }).catch((e) => e)), 'DOWNLOAD_TOO_LONG')
})

t.test('wrong bytes of the right length: PAYLOAD_HASH_MISMATCH; server errors keep their class', async (t) => {
  const wrong = Buffer.from(data)
  wrong[12345] = 0xff - wrong[12345]!
  const srv = await serve((req, res) => {
    if (req.url === '/gone') return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"BLOB_NOT_FOUND","message":"no"}}')
    if (req.url === '/down') return void res.writeHead(503).end('garbage <html>')
    sendBlob(req, res, wrong)
  })
  t.teardown(srv.close)
  const dir = await tmp(t)
  t.equal(code(await fetchInto(join(dir, 'a'), { url: new URL('/x', srv.url) }).catch((e) => e)), 'PAYLOAD_HASH_MISMATCH')
  const gone = await fetchInto(join(dir, 'b'), { url: new URL('/gone', srv.url) }).catch((e) => e)
  t.equal(code(gone), 'SERVER_REJECTED')
  t.equal(gone.details.serverCode, 'BLOB_NOT_FOUND')
  t.equal(code(await fetchInto(join(dir, 'c'), { url: new URL('/down', srv.url), retries: 1 }).catch((e) => e)), 'SERVER_ERROR')
})

t.test('a sink that lost what the checkpoint says it holds starts over from byte 0', async (t) => {
  const srv = await serve((req, res) => sendBlob(req, res, data))
  t.teardown(srv.close)
  const out = join(await tmp(t), 'slot')
  await writeFile(out, data.subarray(0, 1000)) // the journal says 2 MiB, the file has 1000 bytes
  const r = await fetchInto(out, { url: new URL('/blob', srv.url), resume: { offset: 2 * 1024 * 1024, etag: `"${expected.sha256}"` } })
  t.equal(r.resumedFrom, 0)
  t.equal(srv.log[0]!.headers.range, undefined, 'no Range: a full request')
  t.ok((await readFile(out)).equals(data))
})

t.test('a resume whose staged file is gone starts over from byte 0 (the file is recreated readable)', async (t) => {
  const srv = await serve((req, res) => sendBlob(req, res, data))
  t.teardown(srv.close)
  const out = join(await tmp(t), 'staged-patch') // never written: the staging folder was wiped
  const r = await fetchInto(out, { url: new URL('/blob', srv.url), resume: { offset: 2 * 1024 * 1024, etag: `"${expected.sha256}"` } })
  t.equal(r.resumedFrom, 0, 'not AGENT_INTERNAL from a write-only handle: the short prefix means start over')
  t.equal(srv.log[0]!.headers.range, undefined, 'no Range: a full request')
  t.ok((await readFile(out)).equals(data))
})
