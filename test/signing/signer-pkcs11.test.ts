/** PKCS#11 adapter against a private SoftHSM2: the Signer contract, key generation, startup errors. */
import t, { type Test } from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import pkcs11js from 'pkcs11js'
import { TrustError } from '../../signing/errors.js'
import { generateTokenKey, Pkcs11Signer, describeConfig, type Pkcs11Config } from '../../signing/pkcs11/index.js'
import { TrustedRoot, verifyAssignment } from '../../signing/verify/index.js'
import { assignmentDoc, keys, rootSigned, signed } from './fixtures.js'
import { signerContract } from './signer-contract.js'
import { softhsm, USER_PIN } from './softhsm.js'

const hsm = await softhsm(['slipway-online', 'slipway-ceremony'])
t.teardown(() => hsm.cleanup())

const cfg = (over: Partial<Pkcs11Config> = {}): Pkcs11Config => ({
  modulePath: hsm.modulePath,
  tokenLabel: 'slipway-online',
  pin: { value: USER_PIN },
  keyLabel: 'online-ed25519',
  ...over,
})

const opened: Pkcs11Signer[] = []
t.teardown(async () => {
  for (const s of opened) await s.close()
})
const keep = (s: Pkcs11Signer) => (opened.push(s), s)

const ed = keep(await generateTokenKey(cfg(), 'ed25519'))
const ec = keep(await generateTokenKey(cfg({ keyLabel: 'online-p256' }), 'ecdsa'))

t.test('PKCS#11 signer contract (Ed25519, CKM_EDDSA)', (t) => signerContract(t, async () => keep(await Pkcs11Signer.open(cfg())), 'ed25519'))
t.test('PKCS#11 signer contract (ECDSA P-256, CKM_ECDSA over SHA-256)', (t) => signerContract(t, async () => keep(await Pkcs11Signer.open(cfg({ keyLabel: 'online-p256' }))), 'ecdsa'))

/**
 * The online token through pkcs11js directly, beside the signer: the module is already
 * initialised in this process (by the signer), which C_Initialize must say.
 */
function rawOnlineToken(t: Test) {
  const lib = new pkcs11js.PKCS11()
  lib.load(hsm.modulePath)
  try {
    lib.C_Initialize()
  } catch (e) {
    t.match((e as Error).message, /CKR_CRYPTOKI_ALREADY_INITIALIZED/)
  }
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === 'slipway-online') as Buffer
  return { lib, slot }
}

t.test('reopening finds the same key; generation refuses to overwrite', async (t) => {
  const again = keep(await Pkcs11Signer.open(cfg()))
  t.equal(again.keyId, ed.keyId)
  t.same(again.publicKey, ed.publicKey)
  await t.rejects(generateTokenKey(cfg(), 'ed25519'), { code: 'PKCS11_KEY_EXISTS' })
})

t.test('the private key cannot leave the token', async (t) => {
  const { lib, slot } = rawOnlineToken(t)
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION)
  t.ok(session.length > 0, 'raw session open')
  lib.C_CloseSession(session)
  const viaSigner = keep(await Pkcs11Signer.open(cfg()))
  t.ok(viaSigner, 'logged in, the signer uses it')
  const s2 = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION) // shares the process's token login
  lib.C_FindObjectsInit(s2, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }, { type: pkcs11js.CKA_LABEL, value: 'online-ed25519' }])
  const [priv] = lib.C_FindObjects(s2, 4)
  lib.C_FindObjectsFinal(s2)
  const attrs = lib.C_GetAttributeValue(s2, priv as Buffer, [{ type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }])
  t.same(attrs.map((a) => a.value), [Buffer.from([1]), Buffer.from([0])], 'sensitive, not extractable')
  t.throws(() => lib.C_GetAttributeValue(s2, priv as Buffer, [{ type: pkcs11js.CKA_VALUE }]), { name: 'Pkcs11Error', code: pkcs11js.CKR_ATTRIBUTE_SENSITIVE, message: 'CKR_ATTRIBUTE_SENSITIVE' })
  lib.C_CloseSession(s2)
})

t.test('startup errors are clear and coded', async (t) => {
  const wrongPin = 'not-the-pin-9876'
  // A token nobody logged in to yet: the token itself says CKR_PIN_INCORRECT.
  const first = await Pkcs11Signer.open(cfg({ tokenLabel: 'slipway-ceremony', pin: { value: wrongPin } })).catch((e: unknown) => e)
  t.match(first, { code: 'PKCS11_PIN_INCORRECT', details: { ckr: 'CKR_PIN_INCORRECT' } })
  // A token this process is logged in to: PKCS#11 would not check; we still do.
  const err = await Pkcs11Signer.open(cfg({ pin: { value: wrongPin } })).catch((e: unknown) => e)
  t.match(err, { code: 'PKCS11_PIN_INCORRECT' })
  for (const e of [first, err])
    t.notMatch(JSON.stringify({ m: (e as Error).message, d: (e as TrustError).details, s: (e as Error).stack }), wrongPin, 'the PIN is never in the error')
  await t.rejects(Pkcs11Signer.open(cfg({ keyLabel: 'no-such-key' })), { code: 'PKCS11_KEY_NOT_FOUND' })
  await t.rejects(Pkcs11Signer.open(cfg({ modulePath: '/nonexistent/libpkcs11.so' })), { code: 'PKCS11_MODULE_NOT_FOUND' })
  await t.rejects(Pkcs11Signer.open(cfg({ modulePath: join(hsm.dir, 'softhsm2.conf') })), { code: 'PKCS11_MODULE_NOT_FOUND' }, 'a file that is not a library')
  await t.rejects(Pkcs11Signer.open(cfg({ tokenLabel: 'no-such-token' })), { code: 'PKCS11_TOKEN_NOT_FOUND' })
  delete process.env.SLIPWAY_TEST_PIN
  await t.rejects(Pkcs11Signer.open(cfg({ pin: { env: 'SLIPWAY_TEST_PIN' } })), { code: 'PKCS11_PIN_MISSING' })
  await t.rejects(Pkcs11Signer.open(cfg({ pin: { file: join(hsm.dir, 'absent-pin') } })), { code: 'PKCS11_PIN_MISSING' })
  t.same(describeConfig(cfg({ pin: { value: wrongPin } })).pin, 'value:<redacted>')
})

t.test('PIN from an environment variable or a file', async (t) => {
  process.env.SLIPWAY_TEST_PIN = USER_PIN
  t.teardown(() => { delete process.env.SLIPWAY_TEST_PIN })
  t.equal(keep(await Pkcs11Signer.open(cfg({ pin: { env: 'SLIPWAY_TEST_PIN' } }))).keyId, ed.keyId)
  const pinFile = join(hsm.dir, 'pin')
  await writeFile(pinFile, USER_PIN + '\n', { mode: 0o600 })
  t.equal(keep(await Pkcs11Signer.open(cfg({ pin: { file: pinFile } }))).keyId, ed.keyId)
})

t.test('a lost session is reopened and the signature retried', async (t) => {
  const signer = keep(await Pkcs11Signer.open(cfg({ keyLabel: 'online-p256' })))
  const before = await signer.sign(Buffer.from('before'))
  t.ok(before.length > 0)
  // Drop every session of this process on the token, as an HSM restart would.
  const { lib, slot } = rawOnlineToken(t)
  lib.C_CloseAllSessions(slot)
  const data = Buffer.from('after the HSM came back')
  const sig = await signer.sign(data)
  const { verify } = await import('node:crypto')
  t.ok(verify('sha256', data, signer.publicKeyObject, sig), 'signed on a fresh session')
})

t.test('metadata signed in the HSM verifies on the device', async (t) => {
  for (const online of [ed, ec]) {
    const k = { ...keys(), online: [online] }
    const trust = TrustedRoot.fromPinned(await signed(rootSigned(k), k.root))
    const v = verifyAssignment(trust, await signed(assignmentDoc(), [online]), { deviceId: 'dev-001' })
    t.same(v.keyIds, [online.keyId], `${online.keyType} online key`)
  }
})
