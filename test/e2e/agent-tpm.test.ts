/**
 * The agent's whole update loop with its device key inside a TPM (issue 10, "TPM"):
 * a real swtpm with an EK certificate from a local test CA, the server configured with
 * that CA (SLIPWAY_TPM_EK_CA_FILE), an enrollment token that requires a TPM-resident
 * key. The agent creates its key in the TPM, proves it there by credential activation
 * and `tpm2_certify`, enrolls, signs every request through the TPM, installs, reboots,
 * commits. A file key, and a TPM whose EK does not chain to the configured CA, are
 * refused with their codes.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { Release } from '../../signing/metadata/release.js'
import { simDevice } from '../client-sdk/agent/device-fixtures.js'
import { call } from '../helpers/api.js'
import { imagePair, pushRelease } from '../helpers/deltas.js'
import { startServer } from '../helpers/server.js'
import { startSwtpm } from '../helpers/swtpm.js'
import { renew } from '../../client-sdk/src/identity/enroll.js'
import { TpmDeviceKey } from '../../client-sdk/src/identity/tpm-key.js'
import { DeviceApi } from '../../client-sdk/src/net/device-api.js'
import { HttpClient } from '../../client-sdk/src/net/http-client.js'

t.test('a TPM-resident key enrolls under requireTpm and runs the whole update loop; a file key and a foreign EK are refused', async (t) => {
  const tpm = await startSwtpm(t)
  const foreign = await startSwtpm(t) // its own EK CA, which the server does not trust
  const dir = t.testdir({})
  const ekCaFile = join(dir, 'ek-ca.pem')
  await writeFile(ekCaFile, await tpm.ekCaPem())
  const srv = await startServer({ SLIPWAY_TPM_EK_CA_FILE: ekCaFile })
  t.teardown(() => srv.close())
  const ci = await srv.token('ci')
  const op = await srv.token('operator')
  const { source, target } = imagePair(1024 * 1024)
  const v1 = await pushRelease(srv, ci, source, { name: 'rootfs', version: '1.0.0', hardware: ['rpi4'] })
  await pushRelease(srv, ci, target, { name: 'rootfs', version: '1.1.0', hardware: ['rpi4'] })
  const root = (await call(srv, undefined, 'GET', '/v1/trust/root/1.json')).raw
  const server = { url: srv.url, trust: { root } }
  const installed = { name: 'rootfs', version: '1.0.0', sha256: v1.sha256, length: v1.length, securityVersion: 1 } as Release

  const created = await call(srv, op, 'POST', '/v1/enrollment-tokens', { group: 'tpm-fleet', maxUses: 10, ttlSeconds: 3600, requireTpm: true })
  t.equal(created.status, 201, String(created.raw))
  t.equal(created.json.requireTpm, true)
  const token: string = created.json.token

  const fileKeyed = await simDevice(t, server, { imageA: source, installed, enrolled: false, config: { hardwareId: 'pi-file' } })
  await t.rejects(fileKeyed.agent.enroll(token), { code: 'CREDENTIAL_REJECTED', details: { serverCode: 'ENROLL_TPM_REQUIRED' } }, 'a file key is refused')
  const stranger = await simDevice(t, server, { imageA: source, installed, enrolled: false, config: { hardwareId: 'pi-foreign', tpm: { tcti: foreign.tcti } } })
  await t.rejects(stranger.agent.enroll(token), { code: 'SERVER_REJECTED', details: { serverCode: 'ATTESTATION_CHAIN_INVALID' } }, 'an EK from another CA is refused at the challenge')
  const tokens = await call(srv, op, 'GET', '/v1/enrollment-tokens')
  t.equal(tokens.json.tokens.find((x: { id: string }) => x.id === created.json.id).uses, 0, 'refused enrollments used nothing')

  const dev = await simDevice(t, server, { imageA: source, installed, enrolled: false, config: { hardwareId: 'pi-tpm', tpm: { tcti: tpm.tcti } } })
  const cred = await dev.agent.enroll(token)
  t.match(cred, { state: 'active', serial: String })
  const certs = await call(srv, op, 'GET', `/v1/devices/${cred.deviceId}/certificates`)
  t.match(certs.json.certificates ?? certs.json, [{ serial: cred.serial, keyType: 'ecdsa', keyTpmResident: true, state: 'active' }], 'the server recorded a proven TPM-resident key')
  const files = await readdir(dev.config.dataDir, { recursive: true })
  t.notOk(files.some((f) => f.endsWith('.pem')), 'no key file on the device')
  for (const f of files.filter((f) => f.endsWith('.json'))) {
    const text = await readFile(join(dev.config.dataDir, f), 'utf8').catch(() => '')
    t.notMatch(text, /PRIVATE KEY/, `${f} holds no key material`)
  }

  t.match(await dev.agent.tick(), { outcome: 'idle', poll: 'none' }, 'signed poll through the TPM: nothing assigned yet')
  const rollout = await call(srv, op, 'POST', '/v1/rollouts', {
    release: 'rootfs@1.1.0',
    selector: { group: 'tpm-fleet' },
    phases: [{ percent: 100, minDevices: 1, soakSeconds: 0 }],
    gate: { minSample: 1 },
    reason: 'tpm e2e',
  })
  t.equal(rollout.status, 201, String(rollout.raw))
  t.equal((await call(srv, op, 'POST', `/v1/rollouts/${rollout.json.rollout.id}/start`, { reason: 'go' })).status, 200)
  t.match(await dev.agent.tick(), { outcome: 'reboot-issued', poll: 'accepted' })
  t.ok((await dev.slot('b')).equals(target), 'slot b holds the new image')
  await tpm.restart() // the reboot power-cycles the TPM too: the key persists at its handle
  dev.config.tpm = { tcti: tpm.tcti } // (the test TPM comes back on another port)
  await dev.powerCycle()
  t.equal((await dev.agent.tick()).outcome, 'committed')
  const shown = await call(srv, op, 'GET', `/v1/devices/${cred.deviceId}`)
  t.same(shown.json.installed.map((i: { version: string }) => i.version), ['1.1.0'], 'the server sees the device on 1.1.0')
  const view = (await call(srv, op, 'GET', `/v1/rollouts/${rollout.json.rollout.id}`)).json
  t.equal(view.totals.healthy, 1, `the TPM device counts healthy in its rollout: ${JSON.stringify(view.totals)}`)

  // renewal of the same TPM key (signed by the TPM) keeps what the attestation proved
  const key = await TpmDeviceKey.open({ tcti: tpm.tcti })
  const http = new HttpClient()
  t.teardown(() => http.close())
  const api = new DeviceApi(new URL(srv.url), http, () => ({ key, serial: cred.serial! }), 30_000)
  const renewed = await renew(api, cred, key, join(dir, 'renewed.json'))
  t.not(renewed.serial, cred.serial)
  const after = await call(srv, op, 'GET', `/v1/devices/${cred.deviceId}/certificates`)
  const list = after.json.certificates ?? after.json
  t.match(list.find((c: { serial: string }) => c.serial === renewed.serial), { state: 'active', keyTpmResident: true }, 'the renewed certificate is still TPM-resident')
})
