/**
 * The key ceremony and CI signing as real `slipway` processes: create a root
 * (file keys, and root keys in a SoftHSM2 token), add / revoke a CI key, change a
 * threshold, rotate the online key into the token, sign and verify a release
 * offline; then on a running server: install a new root, push signed with the new
 * key, push with a pre-signed --metadata file, and a revoked key refused.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { FileKeySigner } from '../../signing/index.js'
import { sha256 } from '../helpers/api.js'
import { slipway, waitForOutput } from '../helpers/cli.js'
import { freePort } from '../helpers/net.js'
import { softhsm, USER_PIN } from '../signing/softhsm.js'

const hsm = await softhsm(['ceremony'])
const dir = await mkdtemp(join(tmpdir(), 'slipway-cli-keys-'))
t.teardown(async () => {
  await rm(dir, { recursive: true, force: true })
  await hsm.cleanup()
})
const hsmEnv = { SOFTHSM2_CONF: process.env.SOFTHSM2_CONF as string, PKCS11_MODULE: hsm.modulePath, PKCS11_PIN: USER_PIN }
const run = (args: string[], env: Record<string, string> = {}) => slipway(args, { ...hsmEnv, ...env }).done
/** without the PKCS#11 variables: what a server host or a CI job with file keys has */
const plain = (args: string[], env: Record<string, string> = {}) => slipway(args, env).done
const json = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1) as string)

const artifact = join(dir, 'edge-os.img')
const data = randomBytes(100_000)
const releaseFlags = ['--name', 'edge-os', '--version', '2.1.0', '--kind', 'os-image', '--hardware', 'rpi4,rpi5', '--security-version', '3', '--source-revision', 'abc123', '--builder', 'ci-7', '--sbom-digest', 'sha256:00']

t.test('offline ceremony: create, add and revoke a CI key, thresholds, online key into a token, sign and verify', async (t) => {
  await writeFile(artifact, data)
  const chain = join(dir, 'chain')
  const created = await run(['keys', 'create-root', '--keys', '3', '--threshold', '2', '--out', chain])
  t.equal(created.code, 0, created.stderr)
  const v1 = json(created.stdout)
  t.equal(v1.version, 1)
  t.equal(v1.roles.root.threshold, 2)
  t.equal(v1.roles.root.keyids.length, 3)
  t.equal((await stat(join(chain, 'root-1.pem'))).mode & 0o777, 0o600, 'key files are 0600')

  const ci2 = join(dir, 'ci-2.pem')
  const gen = await run(['keys', 'generate', ci2, '--type', 'ecdsa'])
  t.equal(gen.code, 0, gen.stderr)
  t.equal(json(gen.stdout).keytype, 'ecdsa')
  const ci2Id = (await FileKeySigner.load(ci2)).keyId

  const r = (i: number) => join(chain, `root-${i}.pem`)
  const tooFew = await run(['keys', 'add-release-key', '--chain', chain, '--key', ci2, '--sign', r(1)])
  t.equal(tooFew.code, 1)
  t.match(tooFew.stderr, /CEREMONY_INVALID/, 'one of 2 root keys is not enough')
  const added = await run(['keys', 'add-release-key', '--chain', chain, '--key', ci2, '--sign', r(1), '--sign', r(2)])
  t.equal(added.code, 0, added.stderr)
  t.ok(json(added.stdout).roles.release.keyids.includes(ci2Id))

  const out = join(dir, 'edge-os.release.json')
  const signed = await run(['release', 'sign', artifact, ...releaseFlags, '--key', ci2, '--out', out])
  t.equal(signed.code, 0, signed.stderr)
  t.equal(json(signed.stdout).sha256, sha256(data))
  const ok = await run(['release', 'verify', out, '--chain', chain, '--artifact', artifact])
  t.equal(ok.code, 0, ok.stderr)
  t.match(json(ok.stdout), { ok: true, rootVersion: 2, artifactChecked: true, release: { name: 'edge-os', securityVersion: 3, hardware: ['rpi4', 'rpi5'] } })
  const viaRoots = await run(['release', 'verify', out, '--root', join(chain, '1.root.json'), '--root', join(chain, '2.root.json')])
  t.equal(viaRoots.code, 0, viaRoots.stderr)
  const tampered = join(dir, 'tampered.img')
  await writeFile(tampered, Buffer.concat([data.subarray(0, 99_999), Buffer.from([data[99_999]! ^ 1])]))
  const bad = await run(['release', 'verify', out, '--chain', chain, '--artifact', tampered])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /PAYLOAD_HASH_MISMATCH/)

  const revoked = await run(['keys', 'revoke-release-key', '--chain', chain, '--key-id', ci2Id, '--sign', r(1), '--sign', r(3)])
  t.equal(revoked.code, 0, revoked.stderr)
  const refused = await run(['release', 'verify', out, '--chain', chain])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /SIGNATURE_REVOKED_KEY/, 'a release by a revoked CI key fails offline too')

  const raised = await run(['keys', 'set-threshold', '--chain', chain, '--role', 'root', '--threshold', '3', '--sign', r(1), '--sign', r(2), '--sign', r(3)])
  t.equal(raised.code, 0, raised.stderr)
  t.equal(json(raised.stdout).roles.root.threshold, 3)

  const online2 = 'pkcs11:token=ceremony;object=online-2'
  t.equal((await run(['keys', 'generate', online2, '--type', 'ecdsa'])).code, 0, 'online key generated inside the token')
  const twoOfThree = await run(['keys', 'rotate-online', '--chain', chain, '--key', online2, '--sign', r(1), '--sign', r(2)])
  t.equal(twoOfThree.code, 1, 'the raised threshold holds')
  const rotated = await run(['keys', 'rotate-online', '--chain', chain, '--key', online2, '--sign', r(1), '--sign', r(2), '--sign', r(3)])
  t.equal(rotated.code, 0, rotated.stderr)
  const v5 = json(rotated.stdout)
  t.equal(v5.version, 5)
  t.equal(v5.roles.online.keyids.length, 1)
  t.not(v5.roles.online.keyids[0], v1.roles.online.keyids[0], 'old online key removed')

  // holders on separate machines: a draft passed around, signed by each, then published
  const draft = join(dir, 'v6.draft.json')
  const proposed = await run(['keys', 'set-threshold', '--chain', chain, '--role', 'root', '--threshold', '2', '--draft', draft, '--sign', r(1)])
  t.equal(proposed.code, 0, proposed.stderr)
  t.equal(json(proposed.stdout).version, 6)
  t.equal((await run(['keys', 'sign-draft', draft, '--sign', r(2)])).code, 0)
  const early = await run(['keys', 'publish', draft, '--chain', chain])
  t.equal(early.code, 1, 'two signatures do not meet the current threshold of 3')
  t.match(early.stderr, /CEREMONY_INVALID/)
  t.equal(json((await run(['keys', 'sign-draft', draft, '--sign', r(3)])).stdout).signatures.length, 3)
  const published = await run(['keys', 'publish', draft, '--chain', chain])
  t.equal(published.code, 0, published.stderr)
  t.equal(json(published.stdout).roles.root.threshold, 2)

  // hand root key 1 over to a new holder whose key lives in the token
  const r1Id = (await FileKeySigner.load(r(1))).keyId
  const pub = await run(['keys', 'public', r(1)])
  t.equal(pub.stderr.trim(), `keyid ${r1Id}`, 'keys public names the keyid to --remove')
  const r4 = 'pkcs11:token=ceremony;object=root-4'
  t.equal((await run(['keys', 'generate', r4, '--type', 'ecdsa'])).code, 0)
  const handed = await run(['keys', 'change-root-keys', '--chain', chain, '--add', r4, '--remove', r1Id, '--threshold', '3', '--sign', r(1), '--sign', r(2), '--sign', r(3), '--sign', r4])
  t.equal(handed.code, 0, handed.stderr)
  const v7 = json(handed.stdout)
  t.equal(v7.roles.root.threshold, 3)
  t.notOk(v7.roles.root.keyids.includes(r1Id), 'the old root key is gone')
  t.equal(v7.roles.root.keyids.length, 3)

  const shown = await run(['keys', 'show', '--chain', chain])
  t.same(shown.stdout.trim().split('\n').map((l) => JSON.parse(l).version), [1, 2, 3, 4, 5, 6, 7])
})

t.test('root keys in a PKCS#11 token sign the ceremony', async (t) => {
  const chain = join(dir, 'hsm-chain')
  const created = await run(['keys', 'create-root', '--keys', '2', '--threshold', '2', '--type', 'ecdsa', '--out', chain, '--pkcs11-token', 'ceremony'])
  t.equal(created.code, 0, created.stderr)
  t.same(json(created.stdout).rootKeys, ['pkcs11:token=ceremony;object=root-1', 'pkcs11:token=ceremony;object=root-2'])
  const wrongPin = await run(['keys', 'set-threshold', '--chain', chain, '--role', 'release', '--threshold', '1', '--sign', 'pkcs11:token=ceremony;object=root-1'], { PKCS11_PIN: 'nope-nope' })
  t.equal(wrongPin.code, 1)
  t.match(wrongPin.stderr, /PKCS11_PIN_INCORRECT/)
  const added = await run(['keys', 'add-release-key', '--chain', chain, '--key', join(dir, 'ci-2.pem'), '--sign', 'pkcs11:token=ceremony;object=root-1', '--sign', 'pkcs11:token=ceremony;object=root-2'])
  t.equal(added.code, 0, added.stderr)
  t.equal(json(added.stdout).version, 2)
})


t.test('on a server: install a root, push with the new CI key and with --metadata, a revoked key refused', async (t) => {
  const port = await freePort()
  const dataDir = join(dir, 'data')
  const env = { SLIPWAY_DATA_DIR: dataDir, PORT: String(port), SLIPWAY_ADMIN_TOKEN: 'slw_' + randomBytes(32).toString('base64url'), LOG_LEVEL: 'warn' }
  const server = slipway(['start'], env)
  t.teardown(() => server.child.kill('SIGKILL'))
  const banner = await waitForOutput(server.child, (text) => text.includes('CI release key:') && text.includes('FILE key'))
  t.match(banner, `CI release key:  ${join(dataDir, 'keys', 'release.pem')}`, 'the first start says where the dev release key is')
  t.match(banner, /!{20,}\n\s+WARNING: the online key [0-9a-f]{64} is a FILE key/, 'and warns loudly that the online key is a file key')
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break
    if (i > 300) throw new Error('server did not come up')
    await new Promise((r) => setTimeout(r, 100))
  }
  const ci = (await plain(['token', 'create', '--role', 'ci'], env)).stdout.trim()
  const keys = join(dataDir, 'keys')
  const push = (name: string, extra: string[], more: Record<string, string> = {}) =>
    plain(['push', artifact, ...releaseFlags.map((f) => (f === 'edge-os' ? name : f)), ...extra], { SLIPWAY_URL: url, SLIPWAY_TOKEN: ci, SLIPWAY_CLI_STATE: join(dir, 'cli-state'), ...more })

  const ci3 = join(dir, 'ci-3.pem')
  t.equal((await plain(['keys', 'generate', ci3])).code, 0)
  const added = await plain(['keys', 'add-release-key', '--chain', keys, '--key', ci3, '--sign', join(keys, 'root.pem')])
  t.equal(added.code, 0, added.stderr)
  const before = await push('new-key', ['--key', ci3])
  t.equal(before.code, 1, 'the server does not trust the new key before the root is installed')
  t.match(before.stderr, /SIGNATURE_UNKNOWN_KEY \(422\)/)
  const installed = await plain(['keys', 'install-root', join(keys, '2.root.json')], env)
  t.equal(installed.code, 0, installed.stderr)
  t.same(json(installed.stdout), { file: join(keys, '2.root.json'), version: 2, created: true })
  const served = Buffer.from(await (await fetch(`${url}/v1/trust/root/2.json`)).arrayBuffer())
  t.ok(served.equals(await readFile(join(keys, '2.root.json'))), 'the server serves the installed root verbatim')

  const pushed = await push('new-key', ['--key', ci3])
  t.equal(pushed.code, 0, pushed.stderr)
  t.equal(json(pushed.stdout).sha256, sha256(data))

  const meta = join(dir, 'presigned.json')
  t.equal((await plain(['release', 'sign', artifact, ...releaseFlags.map((f) => (f === 'edge-os' ? 'presigned' : f)), '--key', ci3, '--out', meta])).code, 0)
  const viaMetadata = await push('presigned', ['--metadata', meta])
  t.equal(viaMetadata.code, 0, viaMetadata.stderr)
  const unsigned = await push('unsigned', [])
  t.equal(unsigned.code, 64, 'push without a key is refused before uploading')
  t.match(unsigned.stderr, /only signed releases/)

  const devKeyId = (await FileKeySigner.load(join(keys, 'release.pem'))).keyId
  t.equal((await plain(['keys', 'revoke-release-key', '--chain', keys, '--key-id', devKeyId, '--sign', join(keys, 'root.pem')])).code, 0)
  t.equal((await plain(['keys', 'install-root', join(keys, '3.root.json')], env)).code, 0)
  const revoked = await push('revoked', [], { SLIPWAY_RELEASE_KEY: join(keys, 'release.pem') })
  t.equal(revoked.code, 1)
  t.match(revoked.stderr, /SIGNATURE_REVOKED_KEY \(422\)/)
  const skip = await plain(['keys', 'install-root', join(keys, '2.root.json')], env)
  t.match(skip.stderr, /already installed/, 're-installing an old version is a no-op')
})

t.test('a PKCS#11 start-up error names its code', async (t) => {
  const r = await run(['start'], { SLIPWAY_DATA_DIR: join(dir, 'p11-data'), PORT: '0', PKCS11_MODULE: join(dir, 'nope.so'), PKCS11_TOKEN_LABEL: 't', PKCS11_ONLINE_KEY_LABEL: 'k' })
  t.equal(r.code, 1)
  t.match(r.stderr, /error: PKCS11_MODULE_NOT_FOUND: /)
  t.notOk(r.stderr.includes(USER_PIN), 'the PIN is not echoed')
})
