/**
 * The downloader driven the way the agent drives it, for the downloader and
 * bad-network tests: a fresh HttpClient, a slot sink on a file (resumed when
 * `resume` is given), and a temp folder removed after the test.
 * Not a test file: tap runs only `*.test.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { download, HttpClient } from '../../../client-sdk/src/index.js'
import { slotSink } from '../../../client-sdk/src/install/slot-sink.js'

export type FetchOptions = Partial<Parameters<typeof download>[0]> & { url: URL }

export async function tmpDir(t: Test, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Download into `path`, checked against `expected`; `retryDelayMs` is the tests' short back-off. */
export async function fetchInto(path: string, expected: { sha256: string; length: number }, retryDelayMs: number, o: FetchOptions) {
  const http = new HttpClient({ idleTimeoutMs: 5000 })
  const sink = slotSink(path, { fresh: !o.resume })
  try {
    const r = await download({ http, expected, sink, retryDelayMs, ...o })
    await sink.finish(expected.length)
    return r
  } finally {
    await sink.close()
    http.close()
  }
}
