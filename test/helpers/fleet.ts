/** Fleet test helpers over the real HTTP API: publish a release, issue enrollment tokens, enroll devices, run rollouts. */
import { randomBytes, randomUUID } from 'node:crypto'
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
  credential: string
  hardwareId: string
}

export async function enroll(
  srv: Pick<TestServer, 'url'>,
  token: string,
  d: { hardwareId?: string; hardware?: string; tags?: string[]; installed?: Array<{ name: string; version: string; sha256: string; securityVersion: number }> } = {},
): Promise<EnrolledDevice> {
  const hardwareId = d.hardwareId ?? `hw-${randomUUID()}`
  const res = await fetch(`${srv.url}/v1/device/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enrollmentToken: token, hardwareId, hardware: d.hardware ?? 'rpi5', tags: d.tags ?? [], installed: d.installed ?? [] }),
  })
  const json = (await res.json()) as any
  if (res.status !== 201 && res.status !== 200) throw new Error(`enroll: ${res.status} ${JSON.stringify(json)}`)
  return { deviceId: json.deviceId, credential: json.credential, hardwareId }
}

export const installedOf = (r: PublishedRelease) => ({ name: r.name, version: r.version, sha256: r.sha256, securityVersion: r.securityVersion })

export { sha256 }
