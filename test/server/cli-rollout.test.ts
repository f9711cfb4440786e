/**
 * `slipway rollout …` as an operator runs it: the real bin as a child process over
 * real HTTP against an embedded server. Happy paths (dry run, create with every flag,
 * list, show, start/pause/resume/promote to completion, rollback) and bad input (unknown
 * rollout, illegal transition, phases not increasing, percent out of range, usage errors).
 */
import t from 'tap'
import { call } from '../helpers/api.js'
import { slipway } from '../helpers/cli.js'
import { enroll, enrollmentToken, installedOf, publish } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'

t.test('--help lists the fleet commands', async (t) => {
  const r = await slipway(['--help'], {}).done
  t.equal(r.code, 0)
  for (const c of ['slipway rollout create', 'slipway rollout list', 'slipway device list', 'slipway enroll-token create', 'slipway audit verify'])
    t.ok(r.stdout.includes(c), c)
  const sub = await slipway(['rollout', 'create', '--help'], {}).done
  t.match(sub.stdout, /--metric 'inference_p95_ms<800' \| 'inference_p95_ms<1\.2x'/)
})

t.test('rollout commands', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0' })
  await publish(srv, { version: '1.1.0' })
  const et = await enrollmentToken(srv, 'field')
  for (let i = 0; i < 12; i++) await enroll(srv, et, { hardwareId: `pi-${i}`, tags: i % 2 ? ['lab'] : [], installed: [installedOf(v1)] })
  const env = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: op }
  const run = (...args: string[]) => slipway(args, env).done

  // dry run: counts, no rollout written
  const dry = await run('rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '10,50,100', '--selector', 'group=field,tag=lab', '--dry-run')
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, /dry run: rootfs@1\.1\.0 — 6 matching devices now/)
  t.match(dry.stdout, /phase\s+percent\s+devices\s+healthy to promote/)
  t.match(dry.stdout, /^3\s+100%\s+6\s+73$/m, 'the last phase reaches every matching device; the default gate needs 73 healthy (95% upper bound of 0/73 ≤ 5%)')
  t.match(dry.stdout, /warning: phase 3 reaches 6 devices now but needs 73 healthy/)
  t.same((await call(srv, op, 'GET', '/v1/rollouts')).json.rollouts, [], 'a dry run creates nothing')

  // create with every flag; the body the server stored is what the flags say
  const created = await run(
    'rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '1,10,50,100', '--min-devices', '1,2,3,4', '--soak', '600',
    '--max-failure-rate', '0.1', '--min-sample', '3', '--max-failures', '5', '--silent-after', '900',
    '--metric', 'inference_p95_ms<800', '--metric', 'inference_p95_ms<1.2x', '--metric', 'boot_s<1.5x',
    '--selector', 'hardware=rpi5,group=field', '--breach', 'rollback', '--reason', 'ship 1.1.0 to the field',
  )
  t.equal(created.code, 0, created.stderr)
  const id = /created rollout (\S+) \(draft\)/.exec(created.stderr)?.[1]
  t.ok(id, `the id is printed: ${created.stderr}`)
  t.match(created.stdout, /state\s+draft, 4 phases/)
  t.match(created.stdout, /selector\s+hardware=rpi5,group=field/)
  t.match(created.stdout, /on breach: rollback/)
  const stored = (await call(srv, op, 'GET', `/v1/rollouts/${id}`)).json.rollout
  t.same(stored.phases, [
    { percent: 1, minDevices: 1, soakSeconds: 600 },
    { percent: 10, minDevices: 2, soakSeconds: 600 },
    { percent: 50, minDevices: 3, soakSeconds: 600 },
    { percent: 100, minDevices: 4, soakSeconds: 600 },
  ])
  t.match(stored.gate, { maxFailureRate: 0.1, minSample: 3, maxFailures: 5, silentAfterSeconds: 900 })
  t.same(stored.gate.metrics, [
    { name: 'inference_p95_ms', max: 800, maxRatioToPrevious: 1.2 },
    { name: 'boot_s', maxRatioToPrevious: 1.5 },
  ])
  t.same(stored.selector, { hardware: 'rpi5', group: 'field' })
  t.equal(stored.breachAction, 'rollback')

  const list = await run('rollout', 'list')
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, new RegExp(`${id}\\s+draft\\s+4 phases\\s+rootfs@1\\.1\\.0\\s+hardware=rpi5,group=field`))
  const listJson = JSON.parse((await run('rollout', 'list', '--state', 'draft', '--json')).stdout)
  t.equal(listJson.rollouts.length, 1)

  // the life of a rollout through the actions
  const start = await run('rollout', 'start', id!, '--reason', 'go')
  t.equal(start.code, 0, start.stderr)
  t.match(start.stderr, `start: rollout ${id} is now running`)
  t.match(start.stdout, /state\s+running, phase 1\/4 \(1%\) — go/)
  t.match(start.stdout, /^>1\s+1%\s+1\s+600s\s+\d+\s+0\s+0\s+0\s+0\s+0\s+0$/m, 'per-phase counts, the current phase marked')
  t.match(start.stdout, /^total(\s+0){6}$/m)
  t.match(start.stdout, /gate: wait — soak ends in \d+ s/)
  t.match(start.stdout, /decided 0, failure rate 0\.0%, bounds \[0\.0%, 100\.0%\]/)
  t.equal((await run('rollout', 'pause', id!, '--reason', 'weekend')).code, 0)
  const shown = await run('rollout', 'show', id!, '--reach')
  t.match(shown.stdout, /state\s+paused, phase 1\/4 \(1%\) — weekend/)
  t.match(shown.stdout, /reach now/, '--reach adds the devices each phase reaches')
  t.match(shown.stdout, /^total(\s+0){6}$/m)
  const raw = JSON.parse((await run('rollout', 'show', id!, '--json')).stdout)
  t.equal(raw.rollout.state, 'paused')
  t.ok(raw.gate.figures, '--json is the API view')
  t.equal((await run('rollout', 'resume', id!, '--reason', 'monday')).code, 0)
  for (let k = 2; k <= 4; k++) {
    const p = await run('rollout', 'promote', id!, '--reason', `phase ${k} by hand`)
    t.equal(p.code, 0, p.stderr)
    t.match(p.stdout, new RegExp(`phase ${k}/4`))
  }
  const done = await run('rollout', 'promote', id!, '--reason', 'finish')
  t.match(done.stderr, /is now completed/)

  // bad input: each prints the API's stable code and exits 1
  const resume = await run('rollout', 'resume', id!, '--reason', 'again')
  t.equal(resume.code, 1)
  t.match(resume.stderr, /^error: ROLLOUT_ILLEGAL_TRANSITION \(409\): cannot resume a rollout that is completed/m)
  const unknown = await run('rollout', 'show', 'no-such-rollout')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /error: ROLLOUT_NOT_FOUND \(404\)/)
  const unknownAct = await run('rollout', 'pause', 'no-such-rollout', '--reason', 'x')
  t.match(unknownAct.stderr, /ROLLOUT_NOT_FOUND/)
  const [down, over, zero, noRelease] = await Promise.all([
    run('rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '10,5,100', '--reason', 'x'),
    run('rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '50,150', '--reason', 'x'),
    run('rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '0,100', '--reason', 'x'),
    run('rollout', 'create', '--release', 'rootfs@9.9.9', '--phases', '100', '--reason', 'x'),
  ])
  t.equal(down.code, 1)
  t.match(down.stderr, /error: ROLLOUT_PHASES_NOT_INCREASING \(400\): phase 2/)
  t.match(over.stderr, /error: ROLLOUT_PERCENT_OUT_OF_RANGE \(400\): phase 2: percent must be in \(0, 100\], got 150/)
  t.match(zero.stderr, /ROLLOUT_PERCENT_OUT_OF_RANGE/)
  t.match(noRelease.stderr, /error: RELEASE_NOT_FOUND \(404\)/)
  t.equal((await call(srv, op, 'GET', '/v1/rollouts')).json.rollouts.length, 1, 'refused creates write nothing')

  // usage errors: exit 64 before any request
  const usage = await Promise.all([
    run('rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '10,x', '--reason', 'x'),
    run('rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '10,100'),
    run('rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '10,100', '--soak', '1,2,3', '--reason', 'x'),
    run('rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '100', '--metric', 'p95>800', '--reason', 'x'),
    run('rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '100', '--selector', 'colour=red', '--reason', 'x'),
    run('rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '100', '--breach', 'explode', '--reason', 'x'),
    run('rollout', 'pause', id!),
    run('rollout', 'frobnicate'),
  ])
  const expected = [/--phases: "x" is not a number/, /--reason is required/, /--soak: give one value, or one per phase \(2\), not 3/, /--metric: "p95>800"/, /unknown key "colour"/, /--breach must be pause or rollback/, /--reason is required/, /unknown rollout command "frobnicate"/]
  usage.forEach((u, i) => {
    t.equal(u.code, 64, `usage error ${i}`)
    t.match(u.stderr, expected[i]!)
  })
})

t.test('create --start, then rollback', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  await publish(srv, { version: '1.0.0' })
  await publish(srv, { version: '1.1.0' })
  const env = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: await srv.token('operator') }
  const empty = await slipway(['rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '100', '--start', '--reason', 'hotfix'], env).done
  t.equal(empty.code, 1, 'a selector matching no device is refused')
  t.match(empty.stderr, /ROLLOUT_SELECTS_NO_DEVICE \(422\)/)
  const created = await slipway(['rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '100', '--start', '--allow-empty', '--reason', 'hotfix'], env).done
  t.equal(created.code, 0, created.stderr)
  t.match(created.stderr, /\(running\)/)
  const id = /created rollout (\S+)/.exec(created.stderr)![1]!
  const back = await slipway(['rollout', 'rollback', id, '--reason', 'bad build'], env).done
  t.equal(back.code, 0, back.stderr)
  t.match(back.stdout, /state\s+rolled_back/)
  const ci = await slipway(['rollout', 'pause', id, '--reason', 'x'], { ...env, SLIPWAY_TOKEN: await srv.token('ci') }).done
  t.equal(ci.code, 1)
  t.match(ci.stderr, /AUTH_FORBIDDEN \(403\)/, 'a CI token may not act on rollouts')
  const noToken = await slipway(['rollout', 'list'], { SLIPWAY_URL: srv.url }).done
  t.match(noToken.stderr, /SLIPWAY_TOKEN_MISSING/)
})

t.test('--gate small-canary: the plan printed before the start, then a 5-device canary promotes with no failures', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const v1 = await publish(srv, { version: '1.0.0' })
  await publish(srv, { version: '1.1.0' })
  const et = await enrollmentToken(srv, 'field')
  for (let i = 0; i < 10; i++) await enroll(srv, et, { hardwareId: `sc-${i}`, installed: [installedOf(v1)] })
  const env = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: await srv.token('operator') }
  const bad = await slipway(['rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '50,100', '--gate', 'lenient', '--reason', 'x'], env).done
  t.equal(bad.code, 64, bad.stderr)
  t.match(bad.stderr, /--gate must be one of strict, standard, small-canary/)
  const created = await slipway(
    ['rollout', 'create', '--release', 'rootfs@1.1.0', '--phases', '50,100', '--min-devices', '5,10', '--gate', 'small-canary', '--start', '--reason', 'canary'],
    env,
  ).done
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, /to promote, each phase needs \(if no device fails\):\n {2}phase 1 \(50%, reaches \d+ now\): 5 healthy devices\n {2}phase 2 \(100%, reaches 10 now\): 10 healthy devices/)
  t.ok(created.stdout.indexOf('to promote') < created.stdout.indexOf('rollout '), 'the plan comes before the created rollout')
  t.match(created.stdout, /max failure rate 100\.0%, min sample 5, confidence 95%, silent after 3600 s, max failures 1/)
})

