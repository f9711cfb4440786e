/**
 * One request as an enrolled device makes it. New tests speak to `/v1/device/*` and
 * `/v1/blobs/*` as a device only through this function: it signs every request with the
 * device's key (RFC 9421 message signature over method, path, query and the
 * Content-Digest of the exact body bytes; keyid = the certificate serial), as the agent does.
 */
import { signRequest } from '../../client-sdk/src/identity/request-signer.js'
import { call } from './api.js'
import type { EnrolledDevice } from './fleet.js'
import type { TestServer } from './server.js'

export function deviceCall(
  srv: Pick<TestServer, 'url'>,
  dev: Pick<EnrolledDevice, 'key' | 'serial'>,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): ReturnType<typeof call> {
  const bytes = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  return signRequest(dev.key, dev.serial, { method, target: path, body: bytes }).then((signed) =>
    call(srv as TestServer, undefined, method, path, bytes, { ...signed, ...headers }),
  )
}
