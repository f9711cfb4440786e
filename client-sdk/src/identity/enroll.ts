/** Enrollment: trade a one-time enrollment token for a device id and credential, stored 0600. */
import type { DeviceApi, EnrollRequest } from '../net/device-api.js'
import { saveCredential, type DeviceCredential } from './credential.js'

export async function enroll(api: DeviceApi, req: EnrollRequest, credentialPath: string): Promise<DeviceCredential> {
  const r = await api.enroll(req)
  const c: DeviceCredential = {
    deviceId: r.deviceId,
    credential: r.credential,
    server: api.server.origin,
    hardwareId: req.hardwareId,
    ...(r.group ? { group: r.group } : {}),
    enrolledAt: new Date().toISOString(),
  }
  await saveCredential(credentialPath, c)
  return c
}
