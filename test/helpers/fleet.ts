/** Fleet test helpers over the real HTTP API: publish a release, issue enrollment tokens, enroll devices, run rollouts. */
import { randomBytes, randomUUID } from 'node:crypto'
import { createCsr } from '../../client-sdk/src/identity/csr.js'
import { FileDeviceKey, type DeviceKey } from '../../client-sdk/src/identity/device-key.js'
import { signRequest } from '../../client-sdk/src/identity/request-signer.js'
import { call, releaseBody, sha256, tusUpload } from './api.js'
import type { TestServer } from './server.js'

export interface PublishedRelease {
  id: string
  name: string
  version: string
  sha256: string
  length: number
  securityVersion: number
  data: Buffer
}

export async function publish(srv: TestServer, over: Record<string, unknown> = {}, data: Buffer = randomBytes(4096)): Promise<PublishedRelease> {
  const ci = await srv.token('ci')
  const uploadId = await tusUpload(srv, ci, data)
  const res = await call(srv, ci, 'POST', '/v1/releases', await releaseBody(srv, uploadId, data, over))
  if (res.status !== 201) throw new Error(`publish failed: ${res.status} ${res.raw}`)
  return { ...res.json, data }
}

export async function enrollmentToken(srv: TestServer, group = 'field', maxUses = 100000, ttlSeconds = 3600): Promise<string> {
  const op = await srv.token('operator')
  const res = await call(srv, op, 'POST', '/v1/enrollment-tokens', { group, maxUses, ttlSeconds })
  if (res.status !== 201) throw new Error(`enrollment token: ${res.status} ${res.raw}`)
  return res.json.token
}

export interface EnrolledDevice {
  deviceId: string
  hardwareId: string
  group: string
  /** the device key (Ed25519 in memory unless asked otherwise); deviceCall signs with it */
  key: DeviceKey
  /** serial of its certificate: the keyid of its signatures */
  serial: string
  certificate: string
  caCertificate: string
  notAfter: string
  /** active, or pending (a re-enrollment claim awaiting approval) */
  state: 'active' | 'pending'
  /** HTTP status of the enrollment: 201 new, 200 re-enrolled with proof, 202 claim pending */
  status: number
}

export interface EnrollOptions {
  hardwareId?: string
  hardware?: string
  tags?: string[]
  installed?: Array<{ name: string; version: string; sha256: string; securityVersion: number }>
  /** the key to enroll (default: a new Ed25519 key) */
  key?: DeviceKey
  keyType?: 'ecdsa' | 'ed25519'
  /** re-enrollment with proof: sign the enroll request with this device's current key */
  proveWith?: Pick<EnrolledDevice, 'key' | 'serial'>
}

/** A device creates its key and enrolls with a CSR (subject CN = its hardware id), as the agent does. */
export async function enroll(srv: Pick<TestServer, 'url'>, token: string, d: EnrollOptions = {}): Promise<EnrolledDevice> {
  const hardwareId = d.hardwareId ?? `hw-${randomUUID()}`
  const key = d.key ?? FileDeviceKey.generate(d.keyType ?? 'ed25519')
  const body = JSON.stringify({ enrollmentToken: token, hardwareId, hardware: d.hardware ?? 'rpi5', tags: d.tags ?? [], installed: d.installed ?? [], csr: await createCsr(hardwareId, key) })
  const signed = d.proveWith ? await signRequest(d.proveWith.key, d.proveWith.serial, { method: 'POST', target: '/v1/device/enroll', body }) : {}
  // a saturated database answers 503 DATABASE_BUSY with Retry-After: a device waits and tries again (4 tries)
  let res: Response
  for (let tries = 1; ; tries++) {
    res = await fetch(`${srv.url}/v1/device/enroll`, { method: 'POST', headers: { 'content-type': 'application/json', ...signed }, body })
    const retryAfter = res.headers.get('retry-after')
    if (res.status !== 503 || !retryAfter || tries === 4) break
    await res.arrayBuffer()
    await new Promise((r) => setTimeout(r, Number(retryAfter) * 1000))
  }
  const json = (await res.json()) as any
  if (![200, 201, 202].includes(res.status)) throw new Error(`enroll: ${res.status} ${JSON.stringify(json)}`)
  return { deviceId: json.deviceId, hardwareId, group: json.group, key, serial: json.serial, certificate: json.certificate, caCertificate: json.caCertificate, notAfter: json.notAfter, state: json.state, status: res.status }
}

export const installedOf = (r: PublishedRelease) => ({ name: r.name, version: r.version, sha256: r.sha256, securityVersion: r.securityVersion })

export { sha256 }
