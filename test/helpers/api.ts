/** Small HTTP helpers for tests against a TestServer: JSON API calls and tus uploads. */
import { createHash } from 'node:crypto'
import * as tus from 'tus-js-client'
import type { TestServer } from './server.js'
import { signReleaseFor, type PushFields } from './trust.js'

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

export async function call(
  srv: TestServer,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; headers: Headers; raw: Buffer }> {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: {
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const raw = Buffer.from(await res.arrayBuffer())
  let json: any
  try {
    json = raw.length ? JSON.parse(raw.toString('utf8')) : undefined
  } catch {
    json = undefined
  }
  return { status: res.status, json, headers: res.headers, raw }
}

/** Upload `data` with the real tus client; resolves to the upload id. */
export function tusUpload(srv: TestServer, token: string, data: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const u = new tus.Upload(data, {
      endpoint: `${srv.url}/v1/uploads`,
      headers: { authorization: `Bearer ${token}` },
      chunkSize: 256 * 1024,
      retryDelays: [],
      onError: reject,
      onSuccess: () => resolve(u.url!.split('/').pop()!),
    })
    u.start()
  })
}

/**
 * A release push body for `data`, with `over` applied, and release metadata for
 * exactly those fields signed by the server's dev release key. Fields no signer
 * can sign (a kind that does not exist, …) go out unsigned: the server must
 * refuse those on the field itself.
 */
export async function releaseBody(srv: Pick<TestServer, 'config'>, uploadId: string, data: Buffer, over: Record<string, unknown> = {}) {
  const body = {
    uploadId,
    name: 'rootfs',
    version: '1.4.0',
    kind: 'os-image',
    hardware: ['rpi5'],
    sha256: sha256(data),
    length: data.length,
    securityVersion: 1,
    ...over,
  }
  try {
    return { ...body, metadata: await signReleaseFor(srv, body as unknown as PushFields) }
  } catch {
    return body
  }
}
