/**
 * One request as an enrolled device makes it. New tests speak to `/v1/device/*` and
 * `/v1/blobs/*` as a device only through this function, so that the way a device proves
 * who it is (today a bearer credential) changes in one place.
 */
import { call } from './api.js'
import type { EnrolledDevice } from './fleet.js'
import type { TestServer } from './server.js'

export function deviceCall(
  srv: Pick<TestServer, 'url'>,
  dev: EnrolledDevice,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): ReturnType<typeof call> {
  return call(srv as TestServer, dev.credential, method, path, body, headers)
}
