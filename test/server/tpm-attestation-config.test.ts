/**
 * TPM attestation settings: off by default, each wrong value named; the verifier
 * built from them on a real swtpm, with the challenge key file shared by two
 * "replicas" (one issues the challenge, the other checks the answer).
 */
import { createPublicKey } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { attestTpmKey } from '../../client-sdk/src/identity/tpm-attest.js'
import { TpmDeviceKey } from '../../client-sdk/src/identity/tpm-key.js'
import { loadTpmAttestationVerifier } from '../../server/adapters/attestation/tpm-attestation.js'
import { loadConfig } from '../../server/config.js'
import { startSwtpm } from '../helpers/swtpm.js'

t.test('settings: off unless SLIPWAY_TPM_EK_CA_FILE is set; defaults; wrong values named', async (t) => {
  t.equal(loadConfig({}).tpmAttestation, undefined)
  t.same(loadConfig({ SLIPWAY_DATA_DIR: '/srv/slipway', SLIPWAY_TPM_EK_CA_FILE: '/etc/slipway/ek-ca.pem' }).tpmAttestation, {
    ekCaFile: '/etc/slipway/ek-ca.pem',
    challengeKeyFile: '/srv/slipway/keys/tpm-challenge.key',
    challengeTtlSeconds: 300,
  })
  t.match(loadConfig({ SLIPWAY_TPM_EK_CA_FILE: '/ca.pem', SLIPWAY_TPM_CHALLENGE_KEY_FILE: '/run/k', SLIPWAY_TPM_CHALLENGE_TTL_SECONDS: '60' }).tpmAttestation, { challengeKeyFile: '/run/k', challengeTtlSeconds: 60 })
  t.throws(() => loadConfig({ SLIPWAY_TPM_CHALLENGE_KEY_FILE: '/run/k' }), { name: 'ConfigError', code: 'CONFIG_INVALID', variable: 'SLIPWAY_TPM_EK_CA_FILE' })
  t.throws(() => loadConfig({ SLIPWAY_TPM_EK_CA_FILE: '/ca.pem', SLIPWAY_TPM_CHALLENGE_TTL_SECONDS: '5' }), { name: 'ConfigError', code: 'CONFIG_INVALID', variable: 'SLIPWAY_TPM_CHALLENGE_TTL_SECONDS' })
})

t.test('the verifier from config: a key file made once (0600) and shared by replicas; unusable files named', async (t) => {
  const tpm = await startSwtpm(t)
  const dir = await mkdtemp(join(tmpdir(), 'slipway-tpm-cfg-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const ekCaFile = join(dir, 'ek-ca.pem')
  await writeFile(ekCaFile, await tpm.ekCaPem())
  const env = { SLIPWAY_DATA_DIR: dir, SLIPWAY_TPM_EK_CA_FILE: ekCaFile }
  const c = loadConfig(env).tpmAttestation!
  const [one, two] = await Promise.all([loadTpmAttestationVerifier(c), loadTpmAttestationVerifier(c)])
  t.equal((await stat(c.challengeKeyFile)).mode & 0o777, 0o600)
  const keyText = await readFile(c.challengeKeyFile, 'utf8')
  await loadTpmAttestationVerifier(c)
  t.equal(await readFile(c.challengeKeyFile, 'utf8'), keyText, 'reused, not replaced')

  const key = await TpmDeviceKey.open({ tcti: tpm.tcti })
  const attestation = await attestTpmKey(key, (r) => one.challenge(r))
  t.same(await two.verify(attestation, createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' })), { tpmResident: true })

  await t.rejects(loadTpmAttestationVerifier({ ...c, ekCaFile: join(dir, 'missing.pem') }), { name: 'ConfigError', code: 'CONFIG_INVALID', variable: 'SLIPWAY_TPM_EK_CA_FILE' })
  await writeFile(join(dir, 'empty.pem'), 'no certificates here\n')
  await t.rejects(loadTpmAttestationVerifier({ ...c, ekCaFile: join(dir, 'empty.pem') }), { name: 'ConfigError', code: 'CONFIG_INVALID', variable: 'SLIPWAY_TPM_EK_CA_FILE' })
  await writeFile(join(dir, 'short.key'), 'abcd\n')
  await t.rejects(loadTpmAttestationVerifier({ ...c, challengeKeyFile: join(dir, 'short.key') }), { name: 'ConfigError', code: 'CONFIG_INVALID', variable: 'SLIPWAY_TPM_CHALLENGE_KEY_FILE' })
})
