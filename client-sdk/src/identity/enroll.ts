/**
 * Enrollment and renewal with the device key: a CSR (subject CN = hardware id at
 * enrollment, device id at renewal) signed by the key; the server answers with a
 * certificate for it. A device already holding a certificate signs its re-enrollment
 * with its key, which proves it is the same device (no operator approval needed).
 */
import { X509Certificate } from 'node:crypto'
import type { DeviceApi, EnrollRequest } from '../net/device-api.js'
import { saveCredential, type DeviceCredential } from './credential.js'
import { createCsr } from './csr.js'
import type { DeviceKey } from './device-key.js'

export async function enroll(api: DeviceApi, req: EnrollRequest, key: DeviceKey, credentialPath: string): Promise<DeviceCredential> {
  const r = await api.enroll({ ...req, csr: await createCsr(req.hardwareId, key) })
  const c: DeviceCredential = {
    deviceId: r.deviceId,
    ...('credential' in r ? { credential: r.credential } : { certificate: r.certificate, serial: r.serial, notAfter: r.notAfter, state: r.state, caCertificate: r.caCertificate }),
    server: api.server.origin,
    hardwareId: req.hardwareId,
    ...(r.group ? { group: r.group } : {}),
    enrolledAt: new Date().toISOString(),
  }
  await saveCredential(credentialPath, c)
  return c
}

/** True once 2/3 of the certificate's lifetime has passed (issue 10: renew at 2/3). */
export function renewalDue(c: DeviceCredential, nowMs: number = Date.now()): boolean {
  if (!c.certificate || c.state === 'pending') return false
  const cert = new X509Certificate(c.certificate)
  const from = Date.parse(cert.validFrom)
  const to = Date.parse(cert.validTo)
  return nowMs >= from + ((to - from) * 2) / 3
}

/** Ask for a new certificate for the same key, the request signed with the current one. */
export async function renew(api: DeviceApi, c: DeviceCredential, key: DeviceKey, credentialPath: string): Promise<DeviceCredential> {
  const r = await api.renew(await createCsr(c.deviceId, key))
  const next: DeviceCredential = { ...c, certificate: r.certificate, serial: r.serial, notAfter: r.notAfter, state: r.state, caCertificate: r.caCertificate }
  await saveCredential(credentialPath, next)
  return next
}
