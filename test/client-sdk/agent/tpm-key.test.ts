/**
 * TpmDeviceKey against a real software TPM (swtpm): the key is created inside the
 * TPM, signs what node:crypto verifies, is found again after a TPM power cycle and
 * after every file the agent wrote is gone, and no file holds private key material.
 */
import { execFile } from 'node:child_process'
import { createPublicKey, createVerify, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { TpmDeviceKey } from '../../../client-sdk/src/identity/tpm-key.js'
import { startSwtpm } from '../../helpers/swtpm.js'

const run = promisify(execFile)

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await filesUnder(p)))
    else out.push(p)
  }
  return out
}

const verifies = (pem: string, data: Buffer, sig: Uint8Array) => createVerify('sha256').update(data).verify(createPublicKey(pem), sig)

t.test('a P-256 key made in the TPM signs (DER over SHA-256) what node:crypto verifies', async (t) => {
  const tpm = await startSwtpm(t)
  const workDir = await mkdtemp(join(tmpdir(), 'agent-tpm-work-'))
  t.teardown(() => rm(workDir, { recursive: true, force: true }))
  const key = await TpmDeviceKey.open({ tcti: tpm.tcti, workDir })
  t.equal(key.keyType, 'ecdsa')
  const pub = createPublicKey(key.publicKeyPem)
  t.equal(pub.asymmetricKeyDetails?.namedCurve, 'prime256v1')
  t.equal(key.handle, '0x81010002')

  // several at once: the runner serializes them (no resource manager in front of swtpm)
  const messages = Array.from({ length: 5 }, () => randomBytes(100 + Math.floor(Math.random() * 3000)))
  const sigs = await Promise.all(messages.map((m) => key.sign(m)))
  for (const [i, m] of messages.entries()) t.ok(verifies(key.publicKeyPem, m, sigs[i]!), `signature ${i} verifies`)
  t.notOk(verifies(key.publicKeyPem, Buffer.concat([messages[0]!, Buffer.from([0])]), sigs[0]!), 'not over other data')

  // the TPM itself says the key can never leave it (read with the tool, not our parser)
  const { stdout } = await run('tpm2_readpublic', ['-c', key.handle], { env: tpm.env })
  const friendly = /attributes:\s*\n\s*value: (\S+)/.exec(stdout)?.[1]?.split('|') ?? []
  for (const attr of ['fixedtpm', 'fixedparent', 'sensitivedataorigin', 'sign']) t.ok(friendly.includes(attr), `TPM reports ${attr} (${friendly.join('|')})`)
  await run('tpm2_flushcontext', ['-t'], { env: tpm.env })
  t.same(await filesUnder(workDir), [], 'the work folder is empty: nothing persisted outside the TPM')
})

t.test('after a TPM power cycle and with every agent file gone, the same key is found and signs', async (t) => {
  const tpm = await startSwtpm(t)
  const root = await mkdtemp(join(tmpdir(), 'agent-tpm-root-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  const workDir = join(root, 'work')
  await mkdir(workDir)
  const first = await TpmDeviceKey.open({ tcti: tpm.tcti, workDir, keyHandle: '0x81000123' })
  const sig1 = await first.sign(Buffer.from('before'))

  // no file the agent wrote holds key material, in PEM or as a PKCS#8/SEC1 P-256 DER
  const p256Oid = Buffer.from('06082a8648ce3d030107', 'hex')
  for (const f of await filesUnder(root)) {
    const b = await readFile(f)
    t.notOk(b.includes('PRIVATE KEY') || b.includes(p256Oid), `${f} holds no private key`)
  }
  await rm(workDir, { recursive: true, force: true })
  await mkdir(workDir)

  await tpm.restart()
  const again = await TpmDeviceKey.open({ tcti: tpm.tcti, workDir, keyHandle: '0x81000123' })
  t.equal(again.publicKeyPem, first.publicKeyPem, 'the same key, from the TPM alone')
  const sig2 = await again.sign(Buffer.from('after'))
  t.ok(verifies(first.publicKeyPem, Buffer.from('after'), sig2))
  t.ok(verifies(again.publicKeyPem, Buffer.from('before'), sig1))
})

t.test('bad configuration and a handle holding another kind of key are refused with their codes', async (t) => {
  const tpm = await startSwtpm(t)
  await t.rejects(TpmDeviceKey.open({ tcti: tpm.tcti, keyHandle: '0x80000001' }), { code: 'CONFIG_INVALID' })
  await t.rejects(TpmDeviceKey.open({ tcti: '' }), { code: 'CONFIG_INVALID' })
  // swtpm_setup made the RSA endorsement key persistent at 0x81010001: not a P-256 signing key
  await t.rejects(TpmDeviceKey.open({ tcti: tpm.tcti, keyHandle: '0x81010001' }), { code: 'TPM_KEY_INVALID' })
  // a restricted (attestation-style) ECC key at a handle: TPM-resident, but unusable for arbitrary signatures
  const dir = await mkdtemp(join(tmpdir(), 'agent-tpm-bad-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const flush = () => run('tpm2_flushcontext', ['-t'], { env: tpm.env })
  await run('tpm2_createprimary', ['-C', 'o', '-G', 'ecc256', '-c', join(dir, 'p.ctx')], { env: tpm.env })
  await flush()
  await run('tpm2_evictcontrol', ['-C', 'o', '-c', join(dir, 'p.ctx'), '0x81000200'], { env: tpm.env })
  await flush()
  await t.rejects(TpmDeviceKey.open({ tcti: tpm.tcti, keyHandle: '0x81000200' }), { code: 'TPM_KEY_INVALID' })
  // no TPM at the other end of the TCTI
  await tpm.stop()
  await t.rejects(TpmDeviceKey.open({ tcti: tpm.tcti }), { code: 'TPM_FAILED' })
})

t.test('agent config: the tpm section is checked once, naming the field', async (t) => {
  const { validateConfig } = await import('../../../client-sdk/src/config/agent-config.js')
  const base = { server: 'https://ota.example', dataDir: '/var/lib/slipway-agent', trustedRootFile: 'root.json', hardware: 'rpi4', hardwareId: 'sn-1', slots: { kind: 'file' } }
  const c = validateConfig({ ...base, tpm: { tcti: 'device:/dev/tpmrm0', keyHandle: '0x81010002', workDir: 'tpm-work' } }, '/etc/slipway')
  t.same(c.tpm, { tcti: 'device:/dev/tpmrm0', keyHandle: '0x81010002', workDir: '/etc/slipway/tpm-work' })
  t.equal(validateConfig(base).tpm, undefined)
  for (const [tpm, field] of [
    [{}, 'tpm'],
    ['device:/dev/tpmrm0', 'tpm'],
    [{ tcti: 'device:/dev/tpmrm0', keyHandle: '0x01c00002' }, 'tpm.keyHandle'],
    [{ tcti: 'device:/dev/tpmrm0', flush: 'yes' }, 'tpm.flush'],
    [{ tcti: 'device:/dev/tpmrm0', timeoutSeconds: 0 }, 'tpm.timeoutSeconds'],
  ] as const)
    t.throws(() => validateConfig({ ...base, tpm }), { code: 'CONFIG_INVALID', details: { field } }, field)
})

t.test('missing tools: the agent says TPM_TOOL_MISSING; the test helper fails loudly, naming the apt-get line', async (t) => {
  const { requireTpmTools } = await import('../../helpers/swtpm.js')
  const path = process.env.PATH
  const empty = await mkdtemp(join(tmpdir(), 'no-tools-'))
  t.teardown(async () => {
    process.env.PATH = path
    await rm(empty, { recursive: true, force: true })
  })
  process.env.PATH = empty
  await t.rejects(TpmDeviceKey.open({ tcti: 'swtpm:host=127.0.0.1,port=1' }), { code: 'TPM_TOOL_MISSING', message: /apt-get install tpm2-tools/ })
  await t.rejects(requireTpmTools(), { code: 'TEST_TOOL_MISSING', message: /apt-get install -y swtpm swtpm-tools tpm2-tools/ })
})

t.test('a CSR signed in the TPM passes the device CA proof-of-possession check', async (t) => {
  const { createCsr, parseCsr } = await import('../../../signing/certs/index.js')
  const { keyIdOf, tufKeyFromKeyObject } = await import('../../../signing/keys.js')
  const tpm = await startSwtpm(t)
  const key = await TpmDeviceKey.open({ tcti: tpm.tcti })
  const publicKey = tufKeyFromKeyObject(createPublicKey(key.publicKeyPem))
  const csr = await createCsr('device-1', { keyId: keyIdOf(publicKey), publicKey, sign: (d) => key.sign(d) })
  const parsed = parseCsr(csr)
  t.equal(parsed.commonName, 'device-1')
  t.equal(parsed.publicKey.export({ type: 'spki', format: 'pem' }), key.publicKeyPem)
})
