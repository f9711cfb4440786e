/**
 * A device on file-backed slots, driven in-process against a loopback device
 * API that serves really-signed documents (test/signing/fixtures keys). The
 * "reboot" is the simulated firmware (`bootFileSlots`) plus a new agent on the
 * same folders, exactly what a power cycle leaves behind.
 * Not a test file: tap runs only `*.test.ts`.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import type http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { signDelta } from '../../../signing/online-documents.js'
import { buildAssignment, type Assignment } from '../../../signing/metadata/assignment.js'
import { expiresIn } from '../../../signing/metadata/common.js'
import { buildRelease, type Release } from '../../../signing/metadata/release.js'
import type { Delta } from '../../../signing/metadata/delta.js'
import { createAgent, silentLog, type Agent, type AgentConfig } from '../../../client-sdk/src/index.js'
import { bootFileSlots, initFileSlots, readFileSlotsState } from '../../../client-sdk/src/slots/index.js'
import { DAY, keys, rootSigned, signed, type RootKeys } from '../../signing/fixtures.js'
import { sendBlob, serve, sha256, type Served } from './http-fixtures.js'

export interface TrustKit {
  keys: RootKeys
  root: Buffer
  release(r: Release, expires?: string): Promise<unknown>
  assignment(a: Assignment, expires?: string): Promise<unknown>
  delta(d: Delta): Promise<unknown>
}

export async function trustKit(): Promise<TrustKit> {
  const k = keys({ root: 1, release: 1, online: 1 })
  const root = await signed(rootSigned(k, { thresholds: { root: 1 } }), k.root)
  const json = (b: Buffer) => JSON.parse(b.toString('utf8'))
  return {
    keys: k,
    root,
    release: async (r, expires = expiresIn(30 * DAY)) => json(await signed(buildRelease(r, { expires }), k.release)),
    assignment: async (a, expires = expiresIn(DAY)) => json(await signed(buildAssignment(a, { expires }), k.online)),
    delta: async (d) => json(await signDelta(d, k.online)),
  }
}

export { releaseOf } from './release-fixture.js'

export interface FakeApi extends Served {
  events: any[]
  health: any[]
  /** security events (refused offers, integrity findings) */
  security: any[]
  /** inventory reports (PUT /v1/device/inventory) */
  inventory: any[]
  /** answer inventory reports with wantPackages: true while the last one carried no list */
  wantPackages?: boolean
  blobs: Map<string, Buffer>
  /** the 200 poll body to serve (undefined → 204) */
  offer?: unknown
  /** newer roots served as /v1/trust/root/2.json, 3.json, … */
  newerRoots: Buffer[]
  /** replace the blob route (misbehaving servers) */
  blobRoute?: (req: http.IncomingMessage, res: http.ServerResponse) => void
  trust: TrustKit
}

/** The device API of DEVICE-API.md, minimal: poll, blobs, events, health, root chain. */
export async function fakeApi(t: Test, trust: TrustKit): Promise<FakeApi> {
  const api = { events: [] as any[], health: [] as any[], security: [] as any[], inventory: [] as any[], blobs: new Map<string, Buffer>(), trust, newerRoots: [] as Buffer[] } as FakeApi
  const srv = await serve((req, res, body) => {
    const url = req.url ?? ''
    const json = (status: number, v: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v))
    if (url === '/v1/trust/root/1.json') return void res.writeHead(200, { 'content-type': 'application/json' }).end(trust.root)
    const n = /^\/v1\/trust\/root\/(\d+)\.json$/.exec(url)
    const newer = n ? api.newerRoots[Number(n[1]) - 2] : undefined
    if (newer) return void res.writeHead(200, { 'content-type': 'application/json' }).end(newer)
    if (url.startsWith('/v1/trust/root/')) return json(404, { error: { code: 'ROOT_NOT_FOUND', message: 'no' } })
    if (req.headers.authorization !== 'Bearer sld_test') return json(401, { error: { code: 'UNAUTHORIZED', message: 'who' } })
    if (url === '/v1/device/update') {
      if (api.offer === undefined) return void res.writeHead(204, { 'slipway-poll-interval': '1' }).end()
      const etag = `"${sha256(Buffer.from(JSON.stringify(api.offer)))}"`
      if (req.headers['if-none-match'] === etag) return void res.writeHead(304).end()
      if (typeof api.offer === 'string') return void res.writeHead(200, { etag, 'content-type': 'application/json' }).end(api.offer)
      return void res.writeHead(200, { etag, 'content-type': 'application/json' }).end(JSON.stringify(api.offer))
    }
    if (url === '/v1/device/events') {
      api.events.push(...JSON.parse(body.toString()).events)
      return json(200, { accepted: 1, duplicates: 0, stale: 0 })
    }
    if (url === '/v1/device/security-events') {
      api.security.push(JSON.parse(body.toString()))
      return json(200, { accepted: true })
    }
    if (url === '/v1/device/inventory' && req.method === 'PUT') {
      const r = JSON.parse(body.toString())
      api.inventory.push(r)
      return json(200, { changed: true, wantPackages: Boolean(api.wantPackages) && !r.packages?.list })
    }
    if (url === '/v1/device/health') {
      api.health.push(JSON.parse(body.toString()))
      return json(200, { accepted: true })
    }
    if (url.startsWith('/v1/blobs/')) {
      if (api.blobRoute) return api.blobRoute(req, res)
      const blob = api.blobs.get(url.slice('/v1/blobs/'.length))
      if (!blob) return json(404, { error: { code: 'BLOB_NOT_FOUND', message: 'no' } })
      return sendBlob(req, res, blob)
    }
    json(404, { error: { code: 'NOT_FOUND', message: url } })
  })
  t.teardown(srv.close)
  return Object.assign(api, srv)
}

/** Publish `image` as release `r` and offer it to `deviceId` (optionally through a delta patch). */
export async function offer(
  api: FakeApi,
  o: { image: Buffer; release: Release; deviceId?: string; counter?: number; assignmentExpires?: string; patch?: { bytes: Buffer; sourceSha256: string }; action?: 'install' | 'rollback'; rolloutId?: string },
) {
  api.blobs.set(o.release.sha256, o.image)
  let delta: Delta | undefined
  if (o.patch) {
    delta = { sourceSha256: o.patch.sourceSha256, targetSha256: o.release.sha256, patchSha256: sha256(o.patch.bytes), patchLength: o.patch.bytes.length, format: 'slipway-delta-1' }
    api.blobs.set(delta.patchSha256, o.patch.bytes)
  }
  const a: Assignment = {
    deviceId: o.deviceId ?? 'dev-1',
    release: { name: o.release.name, version: o.release.version, sha256: o.release.sha256 },
    rolloutId: o.rolloutId ?? 'ro-1',
    counter: o.counter ?? 1,
    ...(delta ? { delta } : {}),
  }
  api.offer = {
    assignment: await api.trust.assignment(a, o.assignmentExpires),
    release: await api.trust.release(o.release),
    ...(delta ? { delta: await api.trust.delta(delta), patch: { url: `/v1/blobs/${delta.patchSha256}`, length: delta.patchLength } } : {}),
    artifact: { url: `/v1/blobs/${o.release.sha256}`, length: o.release.length },
    action: o.action ?? 'install',
    pollIntervalSeconds: 1,
  }
}

export interface SimDevice {
  dir: string
  slotsDir: string
  config: AgentConfig
  agent: Agent
  /** reboot: simulated firmware boot, then a fresh agent on the same folders */
  powerCycle(): Promise<void>
  slotState(): ReturnType<typeof readFileSlotsState>
  slot(s: 'a' | 'b'): Promise<Buffer>
}

/** Where a device gets its server URL and pinned root: a FakeApi, or a real server. */
export type DeviceServer = Pick<FakeApi, 'url'> & { trust: Pick<TrustKit, 'root'> }

export async function simDevice(
  t: Test,
  api: DeviceServer,
  o: { imageA: Buffer; installed: Release; config?: Partial<AgentConfig>; slotPaths?: { a: string; b: string }; enrolled?: boolean; now?: () => number },
): Promise<SimDevice> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-dev-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const slotsDir = join(dir, 'slots')
  await mkdir(slotsDir)
  await writeFile(join(slotsDir, 'slot-a.img'), o.imageA)
  await initFileSlots(slotsDir, 'a')
  await writeFile(join(dir, 'root.json'), api.trust.root)
  const data = join(dir, 'data')
  await mkdir(data, { mode: 0o700 })
  if (o.enrolled !== false) await writeFile(join(data, 'credential.json'), JSON.stringify({ deviceId: 'dev-1', credential: 'sld_test', server: api.url, hardwareId: 'hw-1', enrolledAt: '' }), { mode: 0o600 })
  const config: AgentConfig = {
    server: api.url,
    dataDir: data,
    trustedRootFile: join(dir, 'root.json'),
    hardware: 'rpi4',
    hardwareId: 'hw-1',
    installed: { name: o.installed.name, version: o.installed.version, sha256: o.installed.sha256, securityVersion: o.installed.securityVersion },
    slots: { kind: 'file', dir: slotsDir, rebootCommand: ['true'], ...(o.slotPaths ? { slotPaths: o.slotPaths } : {}) },
    download: { retries: 0, retryDelayMs: 10, maxAttempts: 1 },
    health: { attempts: 1 },
    ...o.config,
  }
  const dev: SimDevice = {
    dir,
    slotsDir,
    config,
    agent: await createAgent(config, { log: silentLog, ...(o.now ? { now: o.now } : {}) }),
    async powerCycle() {
      dev.agent.close()
      await bootFileSlots(slotsDir)
      dev.agent = await createAgent(config, { log: silentLog, ...(o.now ? { now: o.now } : {}) })
    },
    slotState: () => readFileSlotsState(slotsDir),
    slot: (s) => readFile(o.slotPaths?.[s] ?? join(slotsDir, `slot-${s}.img`)),
  }
  t.teardown(() => dev.agent.close())
  return dev
}
