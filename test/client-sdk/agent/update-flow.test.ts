/**
 * The update state machine end to end on one simulated device (file slots,
 * simulated firmware boots) against a loopback device API with really-signed
 * documents: full image, delta, failed health check.
 */
import t from 'tap'
import { sampleDelta } from '../delta-fixtures.js'
import { fakeApi, offer, releaseOf, simDevice, trustKit } from './device-fixtures.js'
import { sendBlob, sha256 } from './http-fixtures.js'

const states = (events: any[]) => events.map((e) => e.state)

t.test('full image: download into b, verify, try, reboot, health-check, commit, succeeded', async (t) => {
  const trust = await trustKit()
  const api = await fakeApi(t, trust)
  const imageA = Buffer.alloc(300_000, 1)
  const imageB = Buffer.alloc(400_000, 2)
  const dev = await simDevice(t, api, { imageA, installed: releaseOf(imageA, { version: '1.0.0' }) })
  const idle = await dev.agent.tick()
  t.match(idle, { outcome: 'idle', poll: 'none' })
  const rel = releaseOf(imageB, { version: '2.0.0', securityVersion: 2 })
  await offer(api, { image: imageB, release: rel })
  const r1 = await dev.agent.tick()
  t.equal(r1.outcome, 'reboot-issued')
  t.match(await dev.slotState(), { active: 'a', booted: 'a', trying: 'b' })
  t.ok((await dev.slot('b')).equals(imageB))
  await dev.powerCycle()
  const r2 = await dev.agent.tick()
  t.match(r2, { outcome: 'committed', poll: 'not-modified' }, 'committed; the poll then gets 304 for the same assignment')
  t.match(await dev.slotState(), { active: 'b', booted: 'b' })
  t.equal((await dev.slotState()).trying, undefined)
  t.same(states(api.events), ['downloading', 'installing', 'rebooting', 'health-checking', 'succeeded'])
  t.same(api.events.map((e) => e.seq), [1, 2, 3, 4, 6], 'seq increases; 5 is the health report')
  t.match(api.health, [{ bootOk: true, release: { name: 'edge-os', version: '2.0.0' } }])
  const st = await dev.agent.status()
  t.match(st.journal, { os: { version: '2.0.0', sha256: rel.sha256 }, securityVersion: 2, lastCounter: 1, update: { step: 'committed' } })
  t.ok((await dev.slot('a')).equals(imageA), 'old slot kept for the next update / fallback')
})

t.test('delta: patch staged, applied from the active slot into b, verified against the CI hash', async (t) => {
  const trust = await trustKit()
  const api = await fakeApi(t, trust)
  const { source, target, patch } = await sampleDelta()
  const dev = await simDevice(t, api, { imageA: source, installed: releaseOf(source, { version: '1.0.0' }) })
  const rel = releaseOf(target, { version: '2.0.0' })
  await offer(api, { image: target, release: rel, patch: { bytes: patch, sourceSha256: sha256(source) } })
  t.equal((await dev.agent.tick()).outcome, 'reboot-issued')
  t.ok((await dev.slot('b')).equals(target))
  t.notOk(api.log.some((r) => r.path === `/v1/blobs/${rel.sha256}`), 'the full image was never downloaded')
  t.ok(api.log.some((r) => r.path.startsWith('/v1/blobs/') && r.path !== `/v1/blobs/${rel.sha256}`), 'the patch was')
  await dev.powerCycle()
  await dev.agent.tick()
  t.match(await dev.slotState(), { active: 'b', booted: 'b' })
  t.equal(api.events.at(-1).state, 'succeeded')
})

t.test('a failing health check rolls back locally, reboots into a, reports rolled-back with the check and its output', async (t) => {
  const trust = await trustKit()
  const api = await fakeApi(t, trust)
  const imageA = Buffer.alloc(100_000, 1)
  const imageB = Buffer.alloc(100_000, 2)
  const dev = await simDevice(t, api, {
    imageA,
    installed: releaseOf(imageA, { version: '1.0.0' }),
    config: { health: { attempts: 1, commands: [{ name: 'llm-app', argv: ['sh', '-c', 'echo model failed to load >&2; exit 3'] }] } },
  })
  await offer(api, { image: imageB, release: releaseOf(imageB) })
  t.equal((await dev.agent.tick()).outcome, 'reboot-issued')
  await dev.powerCycle()
  t.match(await dev.slotState(), { booted: 'b', trying: 'b', active: 'a' })
  t.equal((await dev.agent.tick()).outcome, 'reboot-issued', 'rolled back, then rebooted into a')
  t.match(await dev.slotState(), { active: 'a', booted: 'b' })
  await dev.powerCycle()
  t.match(await dev.slotState(), { active: 'a', booted: 'a' })
  await dev.agent.tick()
  t.same(states(api.events), ['downloading', 'installing', 'rebooting', 'health-checking', 'rolled-back'])
  t.match(api.events.at(-1).reason, { code: 'HEALTH_CHECK_FAILED', message: /command:llm-app failed: model failed to load/ })
  t.match(api.health[0], { bootOk: true, checks: [{ name: 'command:llm-app', ok: false, output: /model failed to load/ }] })
  const st = await dev.agent.status()
  t.match(st.journal, { os: { version: '1.0.0' }, update: { step: 'rolled-back' } })
  t.ok((await dev.slot('a')).equals(imageA))
})

t.test('a trial boot that never comes up: the firmware falls back, the agent reports rolled-back BOOT_FAILED', async (t) => {
  const trust = await trustKit()
  const api = await fakeApi(t, trust)
  const imageA = Buffer.alloc(50_000, 1)
  const imageB = Buffer.alloc(50_000, 2)
  const dev = await simDevice(t, api, { imageA, installed: releaseOf(imageA, { version: '1.0.0' }) })
  await offer(api, { image: imageB, release: releaseOf(imageB) })
  await dev.agent.tick()
  // boot into the trial, but the new system dies before the agent starts: next power-on falls back
  await dev.powerCycle()
  await dev.powerCycle()
  t.match(await dev.slotState(), { active: 'a', booted: 'a' })
  await dev.agent.tick()
  t.equal(api.events.at(-1).state, 'rolled-back')
  t.equal(api.events.at(-1).reason.code, 'BOOT_FAILED')
  t.match(api.health.at(-1), { bootOk: false })
})

t.test('the network drops mid-download: the update waits at its checkpoint and resumes with Range on a later tick', async (t) => {
  const trust = await trustKit()
  const api = await fakeApi(t, trust)
  const imageA = Buffer.alloc(100_000, 1)
  const imageB = Buffer.alloc(3 * 1024 * 1024, 2)
  for (let i = 0; i < imageB.length; i += 1000) imageB[i] = i & 0xff
  const dev = await simDevice(t, api, {
    imageA,
    installed: releaseOf(imageA, { version: '1.0.0' }),
    config: { download: { retries: 0, retryDelayMs: 10, maxAttempts: 5, checkpointBytes: 1 << 20 } },
  })
  await offer(api, { image: imageB, release: releaseOf(imageB) })
  // the link dies after 2.5 MiB, then the server is unreachable for a while
  let mode: 'cut' | 'down' | 'ok' = 'cut'
  api.blobRoute = (req, res) => {
    if (mode === 'down') return void res.writeHead(503).end()
    if (mode === 'cut') {
      mode = 'down'
      return sendBlob(req, res, imageB, { cutAfter: 2.5 * 1024 * 1024 })
    }
    sendBlob(req, res, imageB)
  }
  t.equal((await dev.agent.tick()).outcome, 'retry-later')
  const j1 = (await dev.agent.status()).journal
  t.equal(j1.update?.step, 'downloading')
  t.ok((j1.update?.download?.offset ?? 0) >= 2 * 1024 * 1024, `checkpoint kept: ${j1.update?.download?.offset}`)
  t.equal((await dev.agent.tick()).outcome, 'retry-later', 'still down: 503')
  mode = 'ok'
  await dev.powerCycle() // and a reboot in between, for good measure: the journal carries the offset
  t.equal((await dev.agent.tick()).outcome, 'reboot-issued')
  const last = api.log.filter((r) => r.path.startsWith('/v1/blobs/')).at(-1)!
  t.equal(last.headers.range, `bytes=${j1.update?.download?.offset}-`, 'resumed where the checkpoint was')
  t.ok((await dev.slot('b')).equals(imageB))
  t.notOk(api.events.some((e) => e.state === 'failed'), 'a transient outage is not a failure')
})

t.test('heartbeats: health checks of the committed release go out every heartbeatSeconds', async (t) => {
  const trust = await trustKit()
  const api = await fakeApi(t, trust)
  const imageA = Buffer.alloc(1000, 1)
  let clock = Date.now()
  const dev = await simDevice(t, api, {
    imageA,
    installed: releaseOf(imageA, { version: '1.0.0' }),
    config: { heartbeatSeconds: 0.2, health: { attempts: 1, commands: [{ name: 'app', argv: ['true'] }] } },
    // the agent's clock, not the machine's: a slow tick on a loaded machine is not 200 ms of agent time
    now: () => clock,
  })
  await dev.agent.tick()
  clock += 199
  await dev.agent.tick() // too soon: no second beat
  t.equal(api.health.length, 1)
  clock += 1
  await dev.agent.tick()
  t.equal(api.health.length, 2)
  t.match(api.health[1], { release: { name: 'edge-os', version: '1.0.0' }, bootOk: true, checks: [{ name: 'command:app', ok: true }] })
  t.ok(api.health[1].seq > api.health[0].seq)
})
