/**
 * TPM key attestation end to end on real software TPMs (swtpm, EK certificates from a
 * local CA made at test time): the agent's evidence passes the server's verifier, and
 * every forgery an attacker can make from outside is refused with its own code.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { attestTpmKey } from '../../client-sdk/src/identity/tpm-attest.js'
import { TpmDeviceKey } from '../../client-sdk/src/identity/tpm-key.js'
import { TpmTools } from '../../client-sdk/src/identity/tpm-tools.js'
import { TpmAttestationVerifier, keyObjectOf, nameOf, parseEccPublic, unwrapTpm2bPublic, type TpmKeyAttestation } from '../../signing/attestation/index.js'
import { startSwtpm, type Swtpm } from '../helpers/swtpm.js'

const spkiDer = (pem: string) => createPublicKey(pem).export({ type: 'spki', format: 'der' })

async function verifierFor(tpm: Swtpm, o: { now?: () => Date; challengeKey?: Buffer } = {}) {
  return new TpmAttestationVerifier({ ekCaPem: await tpm.ekCaPem(), challengeKey: o.challengeKey ?? randomBytes(32), ...(o.now ? { now: o.now } : {}) })
}

/** A fresh attestation of `key`, with the challenge round answered by `verifier`. */
const attest = (key: TpmDeviceKey, verifier: TpmAttestationVerifier) => attestTpmKey(key, (r) => verifier.challenge(JSON.parse(JSON.stringify(r))))

const flip = (b64: string, at: number) => {
  const b = Buffer.from(b64, 'base64')
  b[at % b.length]! ^= 0x01
  return b.toString('base64')
}

t.test('a TPM-resident device key is attested; our TPM Name and credential wrapping agree with the TPM', async (t) => {
  const tpm = await startSwtpm(t)
  const verifier = await verifierFor(tpm)
  const key = await TpmDeviceKey.open({ tcti: tpm.tcti })
  const attestation = await attest(key, verifier)
  t.match(attestation, { format: 'tpm2-certify', activation: { challenge: String, secret: String } })
  t.same(await verifier.verify(attestation, spkiDer(key.publicKeyPem)), { tpmResident: true })
  t.same(await verifier.verify(JSON.parse(JSON.stringify(attestation)), spkiDer(key.publicKeyPem)), { tpmResident: true }, 'survives JSON')

  // nameAlg ‖ H(TPMT_PUBLIC), as tpm2-tools computes it for an AK it makes
  const dir = await mkdtemp(join(tmpdir(), 'tpm-name-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const tools = new TpmTools({ tcti: tpm.tcti })
  await tools.run(['tpm2_createek', '-c', join(dir, 'ek.ctx'), '-G', 'rsa'])
  await tools.run(['tpm2_createak', '-C', join(dir, 'ek.ctx'), '-c', join(dir, 'ak.ctx'), '-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa', '-u', join(dir, 'ak.pub'), '-n', join(dir, 'ak.name')])
  const ak = parseEccPublic(unwrapTpm2bPublic(await readFile(join(dir, 'ak.pub'))))
  t.equal(nameOf(ak).toString('hex'), (await readFile(join(dir, 'ak.name'))).toString('hex'))
})

t.test('an EK certificate from a CA the operator did not configure is refused at both rounds', async (t) => {
  const [operators, attackers] = await Promise.all([startSwtpm(t), startSwtpm(t)])
  const verifier = await verifierFor(operators)
  const key = await TpmDeviceKey.open({ tcti: attackers.tcti })
  await t.rejects(attest(key, verifier), { code: 'ATTESTATION_CHAIN_INVALID' }, 'no challenge for a foreign EK')
  // evidence that is valid for the attacker's own CA is still refused by the operator's verifier
  const own = await verifierFor(attackers)
  const attestation = await attest(key, own)
  t.same(await own.verify(attestation, spkiDer(key.publicKeyPem)), { tpmResident: true })
  await t.rejects(verifier.verify(attestation, spkiDer(key.publicKeyPem)), { code: 'ATTESTATION_CHAIN_INVALID' })
  // an expired EK certificate (swtpm's run to 9999-12-31)
  const late = await verifierFor(attackers, { now: () => new Date('+010000-01-02T00:00:00Z') })
  await t.rejects(late.challenge({ ekCertificate: attestation.ekCertificate, akPublic: attestation.akPublic }), { code: 'ATTESTATION_CHAIN_INVALID', message: /not now/ })
  t.throws(() => new TpmAttestationVerifier({ ekCaPem: 'not a certificate', challengeKey: randomBytes(32) }), { code: 'ATTESTATION_CHAIN_INVALID' })
})

t.test('the AK must be bound to the EK: a challenge for another TPM cannot be answered, a made-up answer is refused', async (t) => {
  const [a, b] = await Promise.all([startSwtpm(t), startSwtpm(t)])
  // b's EK certificate must chain for the challenge to be issued: give the verifier both CAs
  const verifier = new TpmAttestationVerifier({ ekCaPem: (await a.ekCaPem()) + (await b.ekCaPem()), challengeKey: randomBytes(32) })
  const keyA = await TpmDeviceKey.open({ tcti: a.tcti })
  const ekB = Buffer.from((await attest(await TpmDeviceKey.open({ tcti: b.tcti }), verifier)).ekCertificate, 'base64').toString('base64')
  // TPM a presents b's genuine EK certificate with its own AK: the credential is wrapped to b's EK, a cannot open it
  await t.rejects(
    attestTpmKey(keyA, (r) => verifier.challenge({ ...r, ekCertificate: ekB })),
    { code: 'TPM_FAILED', message: /tpm2_activatecredential/ },
  )
  const good = await attest(keyA, verifier)
  const spki = spkiDer(keyA.publicKeyPem)
  await t.rejects(verifier.verify({ ...good, activation: { ...good.activation, secret: randomBytes(32).toString('base64') } }, spki), { code: 'ATTESTATION_ACTIVATION_FAILED' })
  await t.rejects(verifier.verify({ ...good, ekCertificate: ekB }, spki), { code: 'ATTESTATION_ACTIVATION_FAILED' }, 'answer for a against b')
  const claims = JSON.parse(Buffer.from(good.activation.challenge, 'base64url').toString())
  const extended = Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 86400 })).toString('base64url')
  await t.rejects(verifier.verify({ ...good, activation: { ...good.activation, challenge: extended } }, spki), { code: 'ATTESTATION_ACTIVATION_FAILED' }, 'altered expiry')
  const later = new TpmAttestationVerifier({ ekCaPem: await a.ekCaPem(), challengeKey: randomBytes(32) })
  await t.rejects(later.verify(good, spki), { code: 'ATTESTATION_ACTIVATION_FAILED' }, 'issued under another challenge key')
  // a replica sharing the challenge key accepts the answer, until the challenge expires
  const key = randomBytes(32)
  const one = new TpmAttestationVerifier({ ekCaPem: await a.ekCaPem(), challengeKey: key })
  const fresh = await attest(keyA, one)
  t.same(await new TpmAttestationVerifier({ ekCaPem: await a.ekCaPem(), challengeKey: key }).verify(fresh, spki), { tpmResident: true }, 'other replica')
  const expired = new TpmAttestationVerifier({ ekCaPem: await a.ekCaPem(), challengeKey: key, now: () => new Date(Date.now() + 301_000) })
  await t.rejects(expired.verify(fresh, spki), { code: 'ATTESTATION_ACTIVATION_FAILED', message: /expired/ })
})

t.test('certify over a different key, a tampered signature or structure, a non-resident key: each refused with its code', async (t) => {
  const tpm = await startSwtpm(t)
  const verifier = await verifierFor(tpm)
  const key = await TpmDeviceKey.open({ tcti: tpm.tcti })
  const other = await TpmDeviceKey.open({ tcti: tpm.tcti, keyHandle: '0x81010003' })
  const att: TpmKeyAttestation = await attest(key, verifier)
  const spki = spkiDer(key.publicKeyPem)

  // the device claims a software key; or the TPM key of the evidence is another one
  await t.rejects(verifier.verify(att, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' })), { code: 'ATTESTATION_KEY_MISMATCH' })
  await t.rejects(verifier.verify(att, spkiDer(other.publicKeyPem)), { code: 'ATTESTATION_KEY_MISMATCH' })
  await t.rejects(verifier.verify({ ...att, keyPublic: other.publicArea.toString('base64') }, spkiDer(other.publicKeyPem)), { code: 'ATTESTATION_KEY_MISMATCH', message: /certified another key/ })

  // a flipped bit anywhere in the signed structure or the signature
  for (const at of [0, 10, 40, 100]) await t.rejects(verifier.verify({ ...att, certifyInfo: flip(att.certifyInfo, at) }, spki), { code: 'ATTESTATION_SIGNATURE_INVALID' }, `certifyInfo byte ${at}`)
  for (const at of [0, 1, 20]) await t.rejects(verifier.verify({ ...att, certifySignature: flip(att.certifySignature, at) }, spki), { code: 'ATTESTATION_SIGNATURE_INVALID' }, `signature byte ${at}`)
  // a structure signed by an unrestricted key (which could sign anything) is never accepted as an AK
  const forged = await key.sign(Buffer.from(att.certifyInfo, 'base64'))
  await t.rejects(verifier.challenge({ ekCertificate: att.ekCertificate, akPublic: key.publicArea.toString('base64') }), { code: 'ATTESTATION_KEY_NOT_RESIDENT' })
  await t.rejects(verifier.verify({ ...att, akPublic: key.publicArea.toString('base64'), certifySignature: Buffer.from(forged).toString('base64') }, spki), { code: 'ATTESTATION_KEY_NOT_RESIDENT' })

  // a key that was created outside the TPM's rules (duplicable: no fixedTPM/fixedParent) is certified, but not resident
  const dir = await mkdtemp(join(tmpdir(), 'tpm-dup-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const tools = new TpmTools({ tcti: tpm.tcti })
  await tools.run(['tpm2_createprimary', '-C', 'o', '-G', 'ecc256', '-c', join(dir, 'p.ctx')])
  await tools.run(['tpm2_create', '-C', join(dir, 'p.ctx'), '-G', 'ecc256:ecdsa-sha256', '-a', 'sensitivedataorigin|userwithauth|sign', '-u', join(dir, 'k.pub'), '-r', join(dir, 'k.priv')])
  await tools.run(['tpm2_load', '-C', join(dir, 'p.ctx'), '-u', join(dir, 'k.pub'), '-r', join(dir, 'k.priv'), '-c', join(dir, 'k.ctx')])
  await tools.run(['tpm2_evictcontrol', '-C', 'o', '-c', join(dir, 'k.ctx'), '0x81010004'])
  await t.rejects(TpmDeviceKey.open({ tcti: tpm.tcti, keyHandle: '0x81010004' }), { code: 'TPM_KEY_INVALID' }, 'the agent itself refuses such a key')
  const publicArea = unwrapTpm2bPublic(await readFile(join(dir, 'k.pub')))
  const soft = await attestTpmKey({ tools, handle: '0x81010004', publicArea }, (r) => verifier.challenge(r))
  const softSpki = keyObjectOf(parseEccPublic(publicArea)).export({ type: 'spki', format: 'der' })
  await t.rejects(verifier.verify(soft, softSpki), { code: 'ATTESTATION_KEY_NOT_RESIDENT' })

  // not the documented object at all
  for (const bad of [undefined, null, 'x', {}, { ...att, format: 'tpm2-quote' }, { ...att, activation: undefined }, { ...att, keyPublic: '***' }, { ...att, keyPublic: Buffer.from([0, 1, 0, 11]).toString('base64') }])
    await t.rejects(verifier.verify(bad, spki), { code: 'ATTESTATION_MALFORMED' })
  await t.rejects(verifier.challenge({ ekCertificate: att.ekCertificate }), { code: 'ATTESTATION_MALFORMED' })
})

/** TPM2B_PUBLIC of `tpmtPublic` with its P-256 point (the last 68 bytes) replaced by `key`'s. */
function withPoint(tpmtPublic: Buffer, key: ReturnType<typeof generateKeyPairSync>['publicKey']): Buffer {
  const jwk = key.export({ format: 'jwk' }) as { x: string; y: string }
  const point = Buffer.concat([Buffer.from([0, 32]), Buffer.from(jwk.x, 'base64url'), Buffer.from([0, 32]), Buffer.from(jwk.y, 'base64url')])
  const t = Buffer.concat([tpmtPublic.subarray(0, tpmtPublic.length - 68), point])
  return Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t])
}

t.test('a software key dressed as TPM-resident (public-only load) gets neither an activation nor a certify: the TPM rule the verifier rests on', async (t) => {
  const tpm = await startSwtpm(t)
  const verifier = await verifierFor(tpm)
  const key = await TpmDeviceKey.open({ tcti: tpm.tcti })
  const genuine = await attest(key, verifier)
  const tools = new TpmTools({ tcti: tpm.tcti })
  const dir = await mkdtemp(join(tmpdir(), 'tpm-soft-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const f = (n: string) => join(dir, n)
  const soft = generateKeyPairSync('ec', { namedCurve: 'P-256' })

  // 1. a software AK with the genuine AK's attributes (restricted|fixedTPM|…): the server issues a challenge for it…
  const fakeAk = withPoint(Buffer.from(genuine.akPublic, 'base64'), soft.publicKey)
  const c = await verifier.challenge({ ekCertificate: genuine.ekCertificate, akPublic: fakeAk.subarray(2).toString('base64') })
  // …but loaded public-only into the real TPM it has no authValue, so TPM2_ActivateCredential refuses it (TPM_RC_AUTH_UNAVAILABLE)
  await writeFile(f('fake-ak.pub'), fakeAk)
  await writeFile(f('cred'), Buffer.concat([Buffer.from('badcc0de00000001', 'hex'), Buffer.from(c.credentialBlob, 'base64'), Buffer.from(c.encryptedSecret, 'base64')]))
  await tools.run(['tpm2_createek', '-c', f('ek.ctx'), '-G', 'rsa'])
  await tools.run(['tpm2_loadexternal', '-C', 'o', '-u', f('fake-ak.pub'), '-c', f('fake-ak.ctx')])
  await t.rejects(
    tools.runSequence([
      ['tpm2_startauthsession', '--policy-session', '-S', f('s.ctx')],
      ['tpm2_policysecret', '-S', f('s.ctx'), '-c', 'e'],
      ['tpm2_activatecredential', '-c', f('fake-ak.ctx'), '-C', f('ek.ctx'), '-i', f('cred'), '-o', f('secret'), '-P', `session:${f('s.ctx')}`],
    ]),
    { code: 'TPM_FAILED', message: /0x12F|not available/i },
  )
  // so the evidence the attacker can make (a "certify" signed with the software AK) has no valid answer
  const forgedSig = sign('sha256', Buffer.from(genuine.certifyInfo, 'base64'), soft.privateKey)
  await t.rejects(
    verifier.verify({ ...genuine, akPublic: fakeAk.subarray(2).toString('base64'), certifySignature: forgedSig.toString('base64'), activation: { challenge: c.challenge, secret: randomBytes(32).toString('base64') } }, spkiDer(key.publicKeyPem)),
    { code: 'ATTESTATION_ACTIVATION_FAILED' },
  )

  // 2. a software device key with the TPM key's attributes, loaded public-only: a genuine AK cannot certify it
  const fakeKey = withPoint(key.publicArea, soft.publicKey)
  await writeFile(f('fake-key.pub'), fakeKey)
  await tools.run(['tpm2_createak', '-C', f('ek.ctx'), '-c', f('ak.ctx'), '-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa'])
  await tools.run(['tpm2_loadexternal', '-C', 'o', '-u', f('fake-key.pub'), '-c', f('fake-key.ctx')])
  await t.rejects(
    tools.run(['tpm2_certify', '-c', f('fake-key.ctx'), '-C', f('ak.ctx'), '-g', 'sha256', '-o', f('attest'), '-s', f('sig'), '-f', 'plain']),
    { code: 'TPM_FAILED', message: /0x12F|not available/i },
  )
})
