/**
 * The CI path as a release engineer meets it: refusals before a byte is hashed or sent,
 * an identical re-push with no upload, progress lines in a CI log, errors with codes,
 * the signed metadata written beside the artifact, and the release/delta/token views.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { call, releaseBody, tusUpload } from '../helpers/api.js'
import { slipway } from '../helpers/cli.js'
import { freePort } from '../helpers/net.js'
import { startServer } from '../helpers/server.js'
import { devReleaseKeyPath } from '../helpers/trust.js'

const MiB = 2 ** 20

t.test('push refuses early, re-pushes without uploading, and names its errors', async (t) => {
  const srv = await startServer()
  const dir = await mkdtemp(join(tmpdir(), 'slipway-push-'))
  t.teardown(async () => {
    await srv.close()
    await rm(dir, { recursive: true, force: true })
  })
  const ci = await srv.token('ci')
  const env = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: ci, SLIPWAY_CLI_STATE: join(dir, 'state'), SLIPWAY_RELEASE_KEY: devReleaseKeyPath(srv) }
  const image = join(dir, 'rootfs.ext4')
  await writeFile(image, randomBytes(12 * MiB))
  const args = (version: string, file = image) => ['push', file, '--name', 'rootfs', '--version', version, '--kind', 'os-image', '--hardware', 'rpi5']
  const staged = async () => (await readdir(srv.config.uploadDir).catch(() => [])).length

  const badVersion = await slipway(args('1.1'), env).done
  t.equal(badVersion.code, 1)
  t.match(badVersion.stderr, /error: RELEASE_VERSION_INVALID \(400\)/, 'an invalid version is refused by the server')
  t.notMatch(badVersion.stderr, /hashing|uploading/, 'before hashing or uploading')

  const stranger = join(dir, 'stranger.pem')
  await writeFile(stranger, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }))
  const unknownKey = await slipway([...args('1.0.0'), '--key', stranger], env).done
  t.equal(unknownKey.code, 1)
  t.match(unknownKey.stderr, /error: SIGNATURE_UNKNOWN_KEY/, 'a key the release role does not list is refused')
  t.notMatch(unknownKey.stderr, /hashing|uploading/, 'before hashing or uploading')
  t.equal(await staged(), 0, 'nothing was staged by the refusals')

  const first = await slipway(args('1.0.0'), env).done
  t.equal(first.code, 0, first.stderr)
  t.match(first.stderr, /hashing 100% \(12\.6 of 12\.6 MB/, 'progress lines for the hash without a terminal')
  t.match(first.stderr, /uploading 100%/, 'and for the upload')
  t.match(first.stderr, /published/)
  const out = JSON.parse(first.stdout) as { id: string; metadata: string }
  t.equal(out.metadata, `${image}.release.json`)
  const verify = await slipway(['release', 'verify', out.metadata, '--root', join(srv.config.keys.dir, '1.root.json'), '--artifact', image], {}).done
  t.equal(verify.code, 0, `push wrote metadata that release verify accepts: ${verify.stderr}`)

  const again = await slipway(args('1.0.0'), env).done
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, /already published \(identical\)/)
  t.notMatch(again.stderr, /uploading/, 'an identical re-push uploads nothing')
  t.equal(JSON.parse(again.stdout).id, out.id)

  const other = join(dir, 'other.ext4')
  await writeFile(other, randomBytes(12 * MiB))
  const sameSize = await slipway(args('1.0.0', other), env).done
  t.equal(sameSize.code, 1)
  t.match(sameSize.stderr, /error: RELEASE_EXISTS \(409\)/, 'other content under a published version')
  t.notMatch(sameSize.stderr, /uploading/, 'is refused before the upload')
  await writeFile(other, randomBytes(MiB))
  const otherSize = await slipway(args('1.0.0', other), env).done
  t.match(otherSize.stderr, /error: RELEASE_EXISTS \(409\)/)
  t.notMatch(otherSize.stderr, /hashing/, 'a different length is refused before hashing')
  t.equal(await staged(), 0, 'no refused push left bytes behind')

  const wrongToken = await slipway(args('1.0.1'), { ...env, SLIPWAY_TOKEN: 'slw_' + 'x'.repeat(43) }).done
  t.equal(wrongToken.code, 1)
  t.match(wrongToken.stderr, /error: AUTH_INVALID \(401\)/, 'a wrong token is named as such')
  const dead = `http://127.0.0.1:${await freePort()}`
  const down = await slipway(args('1.0.1'), { ...env, SLIPWAY_URL: dead }).done
  t.equal(down.code, 1)
  t.match(down.stderr, new RegExp(`error: SERVER_UNREACHABLE: cannot reach ${dead.replace(/\./g, '\\.')} \\(ECONNREFUSED\\)`), 'a server that is not there is named with its URL')
})

t.test('a refused bind removes the uploaded bytes at once', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const data = randomBytes(256 * 1024)
  const first = await tusUpload(srv, ci, data)
  t.equal((await call(srv, ci, 'POST', '/v1/releases', await releaseBody(srv, first, data, { version: '2.0.0' }))).status, 201)
  const again = await tusUpload(srv, ci, randomBytes(256 * 1024))
  const body = await releaseBody(srv, again, data, { version: '2.0.0', securityVersion: 9 })
  const res = await call(srv, ci, 'POST', '/v1/releases', body)
  t.equal(res.json?.error?.code, 'RELEASE_EXISTS')
  const head = await fetch(`${srv.url}/v1/uploads/${again}`, { method: 'HEAD', headers: { authorization: `Bearer ${ci}`, 'tus-resumable': '1.0.0' } })
  t.equal(head.status, 404, 'the refused upload is gone, not kept until the reclaim')
})

t.test('release list|show, delta request|list|show, enrollment tokens by creator label', async (t) => {
  const srv = await startServer()
  const dir = await mkdtemp(join(tmpdir(), 'slipway-views-'))
  t.teardown(async () => {
    await srv.close()
    await rm(dir, { recursive: true, force: true })
  })
  const ci = await srv.token('ci')
  const env = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: ci, SLIPWAY_CLI_STATE: join(dir, 'state'), SLIPWAY_RELEASE_KEY: devReleaseKeyPath(srv) }
  const base = randomBytes(2 * MiB)
  for (const [v, bytes] of [['1.0.0', base], ['1.1.0', Buffer.concat([base.subarray(0, MiB), randomBytes(4096), base.subarray(MiB + 4096)])]] as const) {
    await writeFile(join(dir, `img-${v}`), bytes)
    const r = await slipway(['push', join(dir, `img-${v}`), '--name', 'rootfs', '--version', v, '--kind', 'os-image', '--hardware', 'rpi5', '--source-revision', `rev-${v}`], env).done
    t.equal(r.code, 0, r.stderr)
  }
  const list = await slipway(['release', 'list'], { ...env, SLIPWAY_TOKEN: srv.adminToken }).done
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, /rootfs\s+1\.0\.0\s+os-image\s+rpi5\s+2\.0 MiB/)
  t.match(list.stdout, /token "test ci" \(ci\)/, 'pushed by the token label, for an admin')
  const asCi = await slipway(['release', 'list'], env).done
  t.equal(asCi.code, 0, 'a CI token may list releases (it cannot list tokens, so it sees ids)')

  const show = await slipway(['release', 'show', 'rootfs@1.1.0', '--metadata', join(dir, 'm.json')], env).done
  t.equal(show.code, 0, show.stderr)
  t.match(show.stdout, /provenance\s+source rev-1\.1\.0/)
  t.match(show.stdout, /signed by\s+[0-9a-f]{64}/)
  const pretty = join(dir, 'pretty.json')
  await writeFile(pretty, JSON.stringify(JSON.parse(await readFile(join(dir, 'm.json'), 'utf8')), null, 2))
  const verify = await slipway(['release', 'verify', pretty, '--root', join(srv.config.keys.dir, '1.root.json')], {}).done
  t.equal(verify.code, 0, `any JSON spelling of the envelope verifies: ${verify.stderr}`)
  const missing = await slipway(['release', 'show', 'rootfs@9.9.9'], env).done
  t.match(missing.stderr, /error: RELEASE_NOT_FOUND \(404\)/)

  const req = await slipway(['delta', 'request', 'rootfs@1.0.0', 'rootfs@1.1.0'], env).done
  t.equal(req.code, 0, req.stderr)
  t.match(req.stdout, /from → to\s+rootfs@1\.0\.0 → rootfs@1\.1\.0/)
  const id = /delta (\S+)/.exec(req.stdout)![1]!
  let shown = ''
  for (let i = 0; i < 120 && !/state\s+(ready|too-large|failed)/.test(shown); i++) {
    shown = (await slipway(['delta', 'show', id], env).done).stdout
    await new Promise((r) => setTimeout(r, 500))
  }
  t.match(shown, /state\s+ready/, 'the delta was built')
  t.match(shown, /patch\s+\d+ bytes/)
  const dl = await slipway(['delta', 'list', '--to', 'rootfs@1.1.0'], env).done
  t.match(dl.stdout, new RegExp(`${id}\\s+rootfs@1\\.0\\.0\\s+rootfs@1\\.1\\.0\\s+ready`))

  const op = await srv.container.auth.create('operator', 'night shift')
  const opEnv = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: op.token }
  t.equal((await slipway(['enroll-token', 'create', '--group', 'field', '--uses', '3', '--ttl', '3600'], opEnv).done).code, 0)
  const tokens = await slipway(['enroll-token', 'list'], { ...opEnv, SLIPWAY_TOKEN: srv.adminToken }).done
  t.match(tokens.stdout, /token "night shift" \(operator\)/, 'created by shows the label')
})
