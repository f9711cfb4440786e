/**
 * The online key on the server: the OnlineSigner contract on a file key and on a
 * SoftHSM2 key; start-up with a PKCS#11 online key; and the start-up errors an
 * operator gets for a wrong PIN, a missing key, a missing module, no root, or a
 * key the root does not list.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { createRoot, FileKeySigner, generateTokenKey, verify } from '../../signing/index.js'
import { openRepositories } from '../../server/adapters/db/index.js'
import { openOnlineSigner } from '../../server/adapters/signer/online-signer.js'
import { TrustService } from '../../server/domain/trust/trust-service.js'
import { call } from '../helpers/api.js'
import { startServer } from '../helpers/server.js'
import { softhsm, USER_PIN } from '../signing/softhsm.js'
import { onlineSignerContract } from './online-signer.contract.js'

const hsm = await softhsm(['slipway-online'])
const dir = await mkdtemp(join(tmpdir(), 'slipway-online-'))
t.teardown(async () => {
  await rm(dir, { recursive: true, force: true })
  await hsm.cleanup()
})
const p11 = { modulePath: hsm.modulePath, tokenLabel: 'slipway-online', pin: { value: USER_PIN } }
const hsmKey = await generateTokenKey({ ...p11, keyLabel: 'online-1' }, 'ecdsa')
const hsmPublicKey = hsmKey.publicKey
await hsmKey.close()

t.test('file adapter', async (t) =>
  onlineSignerContract(t, async () => {
    const key = FileKeySigner.generate('ed25519')
    const path = join(dir, 'online-contract.pem')
    await key.save(path)
    return { signer: await openOnlineSigner({ kind: 'file', path }), publicKey: key.publicKey }
  }, 'file'),
)

t.test('PKCS#11 adapter (SoftHSM2, P-256)', async (t) =>
  onlineSignerContract(t, async () => ({ signer: await openOnlineSigner({ kind: 'pkcs11', ...p11, keyLabel: 'online-1' }), publicKey: hsmPublicKey }), 'pkcs11'),
)

const pkcs11Env = (dataDir: string, over: Record<string, string> = {}) => ({
  SLIPWAY_DATA_DIR: dataDir,
  PKCS11_MODULE: hsm.modulePath,
  PKCS11_TOKEN_LABEL: 'slipway-online',
  PKCS11_PIN: USER_PIN,
  PKCS11_ONLINE_KEY_LABEL: 'online-1',
  ...over,
})

t.test('a server with its online key in PKCS#11', async (t) => {
  const dataDir = join(dir, 'hsm-server')
  await t.rejects(startServer(pkcs11Env(dataDir)), { code: 'TRUST_ROOT_MISSING' }, 'no dev root is made up for a PKCS#11 key: the operator installs one')

  // the operator's ceremony output, installed as `slipway keys install-root` does
  const root = FileKeySigner.generate('ed25519')
  const rootBytes = await createRoot(
    { roles: { root: { keys: [root.publicKey], threshold: 1 }, release: { keys: [FileKeySigner.generate('ed25519').publicKey], threshold: 1 }, online: { keys: [hsmPublicKey], threshold: 1 } } },
    [root],
  )
  const repos = await openRepositories({ sqlitePath: join(dataDir, 'slipway.db') })
  await new TrustService(repos.roots).install(rootBytes)
  await repos.close()

  const lines: string[] = []
  const log = new PassThrough().on('data', (c: Buffer) => lines.push(c.toString()))
  const srv = await startServer(pkcs11Env(dataDir), log)
  t.teardown(() => srv.close())
  t.equal(srv.container.onlineSigner.keyKind, 'pkcs11')
  t.equal(srv.container.devRoot, undefined, 'no dev root')
  t.notMatch(lines.join(''), /FILE key/, 'no file-key warning')
  t.notOk(lines.join('').includes(USER_PIN), 'the PIN is never logged')
  const served = await call(srv, undefined, 'GET', '/v1/trust/root/latest.json')
  const trust = verify.TrustedRoot.walk(served.raw, [])
  const bytes = await srv.container.onlineSigner.signAssignment({ deviceId: 'd1', release: { name: 'r', version: '1.0.0', sha256: 'c'.repeat(64) }, rolloutId: 'ro', counter: 1 })
  t.equal(verify.verifyAssignment(trust, bytes, { deviceId: 'd1' }).assignment.counter, 1, 'devices accept what the HSM key signs')

  await t.rejects(startServer(pkcs11Env(dataDir, { PKCS11_PIN: '0000-wrong' })), { code: 'PKCS11_PIN_INCORRECT' })
  await t.rejects(startServer(pkcs11Env(dataDir, { PKCS11_ONLINE_KEY_LABEL: 'no-such-key' })), { code: 'PKCS11_KEY_NOT_FOUND' })
  await t.rejects(startServer(pkcs11Env(dataDir, { PKCS11_MODULE: join(dir, 'missing-pkcs11.so') })), { code: 'PKCS11_MODULE_NOT_FOUND' })
  await t.rejects(startServer(pkcs11Env(dataDir, { PKCS11_TOKEN_LABEL: 'no-such-token' })), { code: 'PKCS11_TOKEN_NOT_FOUND' })
  const pinFile = join(dir, 'pin')
  await writeFile(pinFile, `${USER_PIN}\n`, { mode: 0o600 })
  const { PKCS11_PIN: _, ...withoutPin } = pkcs11Env(dataDir)
  const viaFile = await startServer({ ...withoutPin, PKCS11_PIN_FILE: pinFile })
  t.equal(viaFile.container.onlineSigner.keyId, srv.container.onlineSigner.keyId, 'PKCS11_PIN_FILE works too')
  await viaFile.close()
})

t.test('file online key: loud warning, and refused when the root does not list it', async (t) => {
  const dataDir = join(dir, 'file-server')
  const lines: string[] = []
  const log = new PassThrough().on('data', (c: Buffer) => lines.push(c.toString()))
  const srv = await startServer({ SLIPWAY_DATA_DIR: dataDir }, log)
  const keyId = srv.container.onlineSigner.keyId
  await srv.close()
  const warn = lines.map((l) => JSON.parse(l)).find((l) => /online key .* is a FILE key/.test(l.msg))
  t.ok(warn, 'the start logs that the online key is a file key')
  t.equal(warn.level, 40, 'at warn level')
  t.equal(warn.onlineKeyId, keyId)

  // someone replaced the key file: what it signs would be refused by devices
  await rm(join(dataDir, 'keys', 'online.pem'))
  await FileKeySigner.generate('ed25519').save(join(dataDir, 'keys', 'online.pem'))
  await t.rejects(startServer({ SLIPWAY_DATA_DIR: dataDir }), { code: 'ONLINE_KEY_NOT_IN_ROOT' })
  await rm(join(dataDir, 'keys', 'online.pem'))
  await t.rejects(startServer({ SLIPWAY_DATA_DIR: dataDir }), { code: 'SIGNER_FILE_INVALID' }, 'a missing key file is not silently regenerated once a root exists')
})
