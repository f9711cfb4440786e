/**
 * `npm run demo`, the story: an embedded server, three signed releases of a small ext4
 * image (good, good, broken on 30% of the fleet), 200 devices (about 20 running the
 * real agent on file slots, the rest speaking the device API), a healthy rollout
 * through its phases to completion, then the broken one and its automatic rollback.
 * Everything lives in `dir`; `close()` stops the devices and the server.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { cohortPosition, phaseOf } from '../server/domain/index.js'
import { call } from '../test/helpers/api.js'
import { pushRelease } from '../test/helpers/deltas.js'
import { enroll, enrollmentToken } from '../test/helpers/fleet.js'
import { mapLimit, SimDevice } from '../test/helpers/fleet-sim.js'
import type { TestServer } from '../test/helpers/server.js'
import { AgentDevice, sleep, type Installed } from './agent-device.js'
import { makeImage } from './image.js'
import { SimFleet } from './sim-fleet.js'
import { watchRollout } from './watch.js'

export interface DemoOptions {
  dir: string
  server: TestServer
  devices: number
  agents: number
  /** share of the fleet on which the broken build fails its health check */
  fragileShare: number
  soakSeconds: number
  /** a breather between the two rollouts, to look at the first one in the console */
  pauseSeconds: number
  pollIntervalSeconds: number
  say: (line: string) => void
}

export interface StoryOutcome {
  good: { id: string; state: string; healthy: number; failed: number }
  bad: { id: string; state: string; phase: number; failed: number; reverted: number; reason: string | null }
  /** name@version → devices, as the server sees the fleet at the end */
  versions: Record<string, number>
  agents: number
  simulated: number
}

export interface Story {
  outcome: Promise<StoryOutcome>
  stop(): Promise<void>
}

const NAME = 'demo-os'
const GOOD = '1.1.0'
const BAD = '1.2.0'
const GROUP = 'field-pi4'

export function tellStory(o: DemoOptions): Story {
  const agents: AgentDevice[] = []
  let sims: SimFleet | undefined
  let stopping = false
  const errors = new Map<string, number>()
  const onError = (e: unknown) => {
    const key = (e as Error).message?.slice(0, 120) ?? String(e)
    errors.set(key, (errors.get(key) ?? 0) + 1)
    if (errors.get(key) === 1) o.say(`  (a device hit an error, shown once: ${key})`)
  }
  const outcome = (async (): Promise<StoryOutcome> => {
    const srv = o.server
    const [ci, op] = [await srv.token('ci'), await srv.token('operator')]
    const api = async (method: string, path: string, body?: unknown) => {
      const r = await call(srv, op, method, path, body)
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.raw.toString()}`)
      return r.json
    }

    o.say('1. Three releases of a small ext4 image, signed with the release key (CI role)')
    const work = join(o.dir, 'images')
    await mkdir(work)
    const push = async (version: string, broken: boolean) => {
      const img = await makeImage(work, { version, broken })
      const r = await pushRelease(srv, ci, img.data, { name: NAME, version, hardware: ['rpi4'], securityVersion: 1 })
      o.say(`   ${NAME}@${version}: ${img.data.length} bytes${img.ext4 ? ' ext4' : ' (no mkfs.ext4 here: a plain image)'}, sha256 ${r.sha256.slice(0, 12)}…${broken ? ` — its app crashes on ${Math.round(o.fragileShare * 100)}% of devices` : ''}`)
      return { data: img.data, release: r }
    }
    const v1 = await push('1.0.0', false)
    await push(GOOD, false)
    await push(BAD, true)
    const installed: Installed = { name: NAME, version: '1.0.0', sha256: v1.release.sha256, securityVersion: 1 }

    o.say(`2. ${o.devices} devices enroll with one enrollment token, all running ${NAME}@1.0.0`)
    const token = await enrollmentToken(srv, 'field', o.devices + 10)
    const root = (await call(srv, undefined, 'GET', '/v1/trust/root/1.json')).raw
    const isFragile = (i: number) => (i * 7919) % 100 < o.fragileShare * 100
    const fragile = new Set<string>()
    const simCount = o.devices - o.agents
    const simDevices = await mapLimit(Array.from({ length: simCount }, (_, i) => i), 16, async (i) => {
      const tags = isFragile(i) ? ['simulated', 'gpu-rev-b'] : ['simulated']
      const d = await enroll(srv, token, { hardwareId: `pi-sim-${String(i).padStart(3, '0')}`, hardware: 'rpi4', tags, installed: [installed] })
      if (isFragile(i)) fragile.add(d.deviceId)
      return new SimDevice(d.deviceId, d, 'healthy', undefined)
    })
    await mapLimit(Array.from({ length: o.agents }, (_, i) => i), 4, async (i) => {
      const name = String(i).padStart(2, '0')
      const dev = await AgentDevice.create({ dir: join(o.dir, 'agents', name), name, server: srv.url, root, image: v1.data, installed, fragile: isFragile(simCount + i), enrollmentToken: token, pollIntervalSeconds: o.pollIntervalSeconds })
      agents.push(dev)
    })
    o.say(`   ${simCount} simulated (device API) + ${o.agents} real agents (client-sdk on file slots, health check = a shell script); ${fragile.size + agents.filter((_, i) => isFragile(simCount + i)).length} have the fragile GPU (tag gpu-rev-b)`)
    if (stopping) throw new Error('stopped')
    sims = new SimFleet(simDevices, fragile, BAD)
    sims.start(srv, o.pollIntervalSeconds, onError)
    for (const a of agents) a.start(onError)

    /**
     * A canary is a random 10 % of the fleet (by rollout id and device id). With 60 fragile
     * devices in 200, about one canary in 35 holds two or fewer of them: too few failures
     * for the gate's stop at the third, too many to promote at 90 % confidence, and the
     * story would wait for ever. So the demo reserves rollout ids (dry runs) until the
     * canary holds at least four fragile devices, as nine in ten do, and plays the same
     * every time.
     */
    const representativeCanary = async (): Promise<{ id?: string }> => {
      const agentIds = await Promise.all(agents.map((a) => a.deviceId()))
      const fragileIds = new Set([...fragile, ...agentIds.filter((_, i) => isFragile(simCount + i))])
      const ids = [...simDevices.map((d) => d.deviceId), ...agentIds]
      for (let tries = 0; tries < 40; tries++) {
        const dry = await api('POST', '/v1/rollouts', { ...body(BAD, 'demo: driver update'), dryRun: true })
        const canary = ids.filter((id) => phaseOf(cohortPosition(dry.rolloutId, id), phases) === 0)
        if (canary.filter((id) => fragileIds.has(id)).length >= 4) return { id: dry.rolloutId }
      }
      return {}
    }
    const phases = [
      { percent: 10, minDevices: 10, soakSeconds: o.soakSeconds },
      { percent: 50, minDevices: 50, soakSeconds: o.soakSeconds },
      { percent: 100, minDevices: 100, soakSeconds: 0 },
    ]
    // a 20-device canary cannot prove 5%: judge 20% at 90% confidence, and stop at the third failure
    const gate = { maxFailureRate: 0.2, minSample: 10, confidence: 0.9, maxFailures: 3, silentAfterSeconds: 120 }
    const body = (version: string, reason: string) => ({ release: `${NAME}@${version}`, selector: { savedGroup: GROUP }, phases, gate, breachAction: 'rollback', reason })
    // a dynamic group: a saved selector, membership computed, never stored
    await api('PUT', `/v1/device-groups/${GROUP}`, { selector: { hardware: 'rpi4', group: 'field' }, description: 'every Pi 4 in the field', reason: 'demo' })
    const members = (await api('GET', `/v1/device-groups/${GROUP}?limit=1`)).group.devices
    o.say(`   rollouts target the dynamic group "${GROUP}" (a saved selector: hardware=rpi4, group=field): ${members} devices match`)

    o.say(`3. Roll out ${NAME}@${GOOD}: dry run first (it reserves the rollout id, so its counts are the real ones)`)
    // a phase's devices follow from a hash of the rollout id: one that reaches fewer devices
    // than it needs healthy could never promote (10 % of 200 is 9 or fewer about once in a
    // hundred ids), so the demo draws another id, as an operator reading the dry run would
    type DryPhase = { percent: number; devices: number; healthyToPromote: number | null }
    const stuck = (d: { phases: DryPhase[] }) => d.phases.some((p) => p.healthyToPromote !== null && p.devices < p.healthyToPromote)
    let dry = await api('POST', '/v1/rollouts', { ...body(GOOD, 'demo: monthly OS update'), dryRun: true })
    for (let tries = 0; tries < 40 && stuck(dry); tries++) dry = await api('POST', '/v1/rollouts', { ...body(GOOD, 'demo: monthly OS update'), dryRun: true })
    for (const [i, p] of (dry.phases as DryPhase[]).entries()) o.say(`   phase ${i + 1} (${p.percent}%): reaches ${p.devices} devices, needs ${p.healthyToPromote ?? '—'} healthy to promote, soak ${phases[i]!.soakSeconds} s`)
    const good = (await api('POST', '/v1/rollouts', { ...body(GOOD, 'demo: monthly OS update'), id: dry.rolloutId, start: true })).rollout
    o.say(`   started rollout ${good.id} — watch it live: ${srv.url}/ui/#/rollouts/${good.id}`)
    const versions = async () => Object.fromEntries(((await api('GET', '/v1/fleet/overview')).byVersion as Array<{ key: string; devices: number }>).map((b) => [b.key, b.devices]))
    const on = async (v: string) => (await versions())[`${NAME}@${v}`] ?? 0
    const g = await watchRollout(api, good.id, o.say, async (r) => r.rollout.state === 'completed' && (await on(GOOD)) === o.devices, () => stopping)
    o.say(`   completed: all ${o.devices} devices run ${NAME}@${GOOD} (${g.totals.healthy} healthy reports, ${g.totals.failed} failed)`)

    if (o.pauseSeconds) {
      o.say(`   (${o.pauseSeconds} s to look at it in the console before the next one)`)
      await sleep(o.pauseSeconds * 1000, () => stopping)
    }
    o.say(`4. Roll out ${NAME}@${BAD} the same way; the gate should catch it in the canary`)
    const bad = (await api('POST', '/v1/rollouts', { ...body(BAD, 'demo: driver update'), ...(await representativeCanary()), start: true })).rollout
    o.say(`   started rollout ${bad.id} — ${srv.url}/ui/#/rollouts/${bad.id}`)
    // an agent that was already installing BAD when the rollback came may report it a moment
    // after the counts first look right (and is then sent back): the fleet is back when the
    // counts hold for three checks in a row, about 3 s
    let steady = 0
    const back = async (r: { rollout: { state: string } }) => {
      steady = r.rollout.state === 'rolled_back' && (await on(BAD)) === 0 && (await on(GOOD)) === o.devices ? steady + 1 : 0
      return steady >= 3
    }
    const b = await watchRollout(api, bad.id, o.say, back, () => stopping)
    o.say(`   rolled back automatically: "${b.rollout.stateReason}"; ${b.totals.failed} devices failed their health check (and reverted by themselves), ${b.totals.reverted} healthy ones were sent back to ${GOOD}; phase ${b.rollout.phase + 1} of ${phases.length} was as far as it got`)
    const final = await versions()
    o.say(`   the fleet now: ${Object.entries(final).map(([k, n]) => `${k} × ${n}`).join(', ')}`)
    return {
      good: { id: good.id, state: g.rollout.state, healthy: g.totals.healthy, failed: g.totals.failed },
      bad: { id: bad.id, state: b.rollout.state, phase: b.rollout.phase, failed: b.totals.failed, reverted: b.totals.reverted, reason: b.rollout.stateReason },
      versions: final,
      agents: agents.length,
      simulated: simDevices.length,
    }
  })()
  return {
    outcome,
    async stop() {
      stopping = true
      await outcome.catch(() => undefined)
      await sims?.stop()
      await Promise.all(agents.map((a) => a.stop()))
      await sleep(0)
    },
  }
}
