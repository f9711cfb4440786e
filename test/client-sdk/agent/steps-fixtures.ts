/**
 * The device of the install and boot step tests (a real journal and file slots in a
 * tmpfs folder, blobs served from memory, reports recorded), shared by
 * install-boot-steps, install-boot-survivors and failpoint-names.
 * Not a test file: tap runs only `*.test.ts`.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { Test } from 'tap'
import type { UpdateContext } from '../../../client-sdk/src/agent/context.js'
import type { AgentConfig } from '../../../client-sdk/src/config/agent-config.js'
import { installedOf, Journal, type JournalState, type UpdateRecord, type UpdateStep } from '../../../client-sdk/src/journal/journal.js'
import type { Log } from '../../../client-sdk/src/log.js'
import { DeviceApi } from '../../../client-sdk/src/net/device-api.js'
import type { HttpClient, HttpResponse, RequestInit } from '../../../client-sdk/src/net/http-client.js'
import type { Reporter } from '../../../client-sdk/src/report/reporter.js'
import { stableId } from '../../../client-sdk/src/report/ids.js'
import { FileSlotAdapter, initFileSlots, readFileSlotsState, type FileSlotsState } from '../../../client-sdk/src/slots/index.js'
import type { Release } from '../../../signing/metadata/release.js'
import { releaseOf } from './release-fixture.js'

// fsync is most of what these steps cost on disk; tmpfs makes it free where there is one
export const TMP = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')
export const imageA = Buffer.alloc(50_000, 1)
export const imageB = Buffer.alloc(70_000, 2)
export const rel = (image: Buffer, over: Partial<Release> = {}): Release => releaseOf(image, { securityVersion: 2, ...over })
export const relA = rel(imageA, { version: '1.0.0', securityVersion: 1 })
export const relB = rel(imageB)

interface Sent {
  url: string
  headers: Record<string, string>
}

/** A device in a temp folder, the update put at `step` by hand. */
export async function device(t: Test, o: { update?: Partial<UpdateRecord>; state?: (s: JournalState) => void; slotB?: Buffer; slots?: Partial<FileSlotsState>; config?: Partial<AgentConfig> } = {}) {
  const dir = await mkdtemp(join(TMP, 'slipway-steps-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const dataDir = join(dir, 'data')
  const slotsDir = join(dir, 'slots')
  const stagingDir = join(dataDir, 'staging')
  await mkdir(dataDir, { recursive: true })
  await mkdir(slotsDir, { recursive: true })
  await mkdir(stagingDir, { recursive: true })
  await writeFile(join(stagingDir, 'left-over.bin'), 'x')
  await initFileSlots(slotsDir, 'a')
  if (o.slots) await writeFile(join(slotsDir, 'state.json'), JSON.stringify({ version: 1, active: 'a', booted: 'a', ...o.slots }))
  await writeFile(join(slotsDir, 'slot-a.img'), imageA)
  await writeFile(join(slotsDir, 'slot-b.img'), o.slotB ?? Buffer.alloc(0))

  const journal = await Journal.open(join(dataDir, 'journal.json'))
  const update: UpdateRecord | undefined =
    o.update === undefined
      ? undefined
      : { id: 'upd-1', step: 'accepted', counter: 1, rolloutId: 'ro-1', action: 'install', release: relB, mode: 'full', artifact: { url: `/v1/blobs/${relB.sha256}`, length: relB.length }, at: new Date().toISOString(), ...o.update }
  await journal.change((s) => {
    s.os = installedOf(relA)
    s.securityVersion = 1
    s.slots = { a: installedOf(relA) }
    if (update) s.update = structuredClone(update)
    o.state?.(s)
  })
  // every durable change, by the step it left the update at
  const steps: Array<UpdateStep | undefined> = []
  const change = journal.change.bind(journal)
  journal.change = async (fn) => {
    await change(fn)
    steps.push(journal.update?.step)
  }

  const blobs = new Map<string, Buffer>([[`/v1/blobs/${relB.sha256}`, imageB]])
  const sent: Sent[] = []
  const answer: { status?: number } = {}
  const http = {
    request: async (url: URL, init: RequestInit = {}): Promise<HttpResponse> => {
      sent.push({ url: url.pathname, headers: init.headers ?? {} })
      const blob = blobs.get(url.pathname)
      const status = answer.status ?? (blob ? 200 : 404)
      const body = status === 200 ? blob! : Buffer.from(JSON.stringify({ error: { code: status === 404 ? 'BLOB_NOT_FOUND' : 'BUSY', message: 'no' } }))
      return { status, headers: { 'content-length': String(body.length) }, body: Readable.from([body]) as unknown as HttpResponse['body'] }
    },
  } as unknown as HttpClient
  const api = new DeviceApi(new URL('http://device.test/'), http, () => 'sld_test')
  const reports: Array<{ kind: string; body: any }> = []
  const reporter = { report: async (r: { kind: string; body: unknown }) => void reports.push(r as { kind: string; body: any }) } as unknown as Reporter
  const logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = []
  const log: Log = (level, msg, fields) => void logs.push({ level, msg, ...(fields && { fields }) })
  const stop = new AbortController()
  const config = { server: 'http://device.test/', dataDir, download: { retries: 0, retryDelayMs: 1 }, health: {}, ...o.config } as AgentConfig
  const slots = new FileSlotAdapter({ dir: slotsDir, rebootCommand: ['true'] })
  const ctx: UpdateContext = { config, journal, slots, http, api, reporter, log, stagingDir, stop: stop.signal }
  return {
    ctx,
    journal,
    steps,
    sent,
    blobs,
    answer,
    reports,
    logs,
    stop,
    slotsDir,
    stagingDir,
    events: () => reports.filter((r) => r.kind === 'event').map((r) => r.body),
    states: () => reports.filter((r) => r.kind === 'event').map((r) => r.body.state as string),
    slotState: () => readFileSlotsState(slotsDir),
    slot: (s: 'a' | 'b') => readFile(join(slotsDir, `slot-${s}.img`)),
    stagingLeft: () => readdir(stagingDir).then((f) => f.length, () => -1),
    distinctSteps: () => steps.filter((s, i) => s !== steps[i - 1]),
  }
}

