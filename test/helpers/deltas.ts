/** Pushing releases and waiting for delta builds over real HTTP, plus small image pairs a delta pays on. */
import { randomBytes } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { changelog, randomBytes as seededBytes } from '../client-sdk/delta-fixtures.js'
import { call, releaseBody, tusUpload } from './api.js'
import type { TestServer } from './server.js'

export interface PushedRelease {
  id: string
  name: string
  version: string
  sha256: string
  length: number
  [k: string]: unknown
}

/** Uploads `data` and publishes it (signed with the server's dev release key); throws unless 201. */
export async function pushRelease(srv: TestServer, ci: string, data: Buffer, over: Record<string, unknown> = {}): Promise<PushedRelease> {
  const res = await call(srv, ci, 'POST', '/v1/releases', await releaseBody(srv, await tusUpload(srv, ci, data), data, over))
  if (res.status !== 201) throw new Error(`push failed: ${res.status} ${JSON.stringify(res.json)}`)
  return res.json as PushedRelease
}

/** Polls GET /v1/deltas/{id} until its state is one of `states`. */
export async function waitForDelta(srv: Pick<TestServer, 'url'>, token: string, id: string, states: string[], timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const res = await call(srv as TestServer, token, 'GET', `/v1/deltas/${id}`)
    if (res.status === 200 && states.includes(res.json.state)) return res.json
    if (Date.now() > deadline) throw new Error(`delta ${id} did not reach ${states.join('|')}: ${JSON.stringify(res.json)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** An old image and a new one that shares most of it, shifted: a small patch. */
export function imagePair(size = 2 * 1024 * 1024): { source: Buffer; target: Buffer } {
  const source = randomBytes(size)
  const target = Buffer.concat([
    source.subarray(0, 300_000),
    Buffer.from('a header that grew'),
    source.subarray(300_000, size - 200_000),
    randomBytes(20_000),
    source.subarray(size - 180_000),
  ])
  return { source, target }
}

/** Images holding gzip members (a changelog edited between them): format 2 diffs inside them. */
export function memberPair(): { source: Buffer; target: Buffer } {
  const prefix = seededBytes(200_000, 31)
  const member = (edit: number) => gzipSync(changelog(3000, 32, edit), { level: 9 })
  return { source: Buffer.concat([prefix, member(-1), prefix.subarray(0, 50_000)]), target: Buffer.concat([prefix, member(1500), prefix.subarray(0, 50_000)]) }
}
