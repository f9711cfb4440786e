/**
 * The console in a real browser (Debian's chromium, headless): sign in, watch a rollout
 * progress live as devices report, pause it through the form (reason + confirmation),
 * see the audit entry and the chain verified in the browser, see a 409 when the state
 * moved underneath an open form, see an automatic breach appear live, quarantine a device from its page, and a read-only
 * (viewer) token that sees everything and cannot act. Screenshots go to test-artifacts/.
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { call } from '../helpers/api.js'
import { launchBrowser, screenshot, signIn, waitForText } from '../helpers/browser.js'
import { deviceCall } from '../helpers/device-call.js'
import { enroll, enrollmentToken, installedOf, publish, type EnrolledDevice } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'

t.test('console: sign in, watch, pause, audit, 409, breach, read-only', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const op = await srv.token('operator')
  const v1 = await publish(srv, { version: '1.0.0' })
  await publish(srv, { version: '1.1.0' })
  const et = await enrollmentToken(srv, 'field')
  const devs: EnrolledDevice[] = []
  for (let i = 0; i < 12; i++) devs.push(await enroll(srv, et, { hardwareId: `pi-${String(i).padStart(2, '0')}`, tags: i < 6 ? ['lab'] : [], installed: [installedOf(v1)] }))
  const created = await call(srv, op, 'POST', '/v1/rollouts', {
    release: 'rootfs@1.1.0',
    phases: [{ percent: 100, minDevices: 12, soakSeconds: 0 }],
    gate: { maxFailureRate: 0.05, minSample: 3, maxFailures: 2 },
    breachAction: 'pause',
    start: true,
    reason: 'weekly update',
  })
  t.equal(created.status, 201, created.raw.toString())
  const id = created.json.rollout.id
  const seqs = new Map<string, number>()
  const report = async (d: EnrolledDevice, state: string) => {
    const seq = (seqs.get(d.deviceId) ?? 0) + 1
    seqs.set(d.deviceId, seq)
    const r = await deviceCall(srv, d, 'POST', '/v1/device/events', { events: [{ id: randomUUID(), seq, rolloutId: id, release: { name: 'rootfs', version: '1.1.0' }, state }] })
    if (r.status !== 200) throw new Error(`report ${r.status} ${r.raw}`)
  }
  for (const d of devs) t.equal((await deviceCall(srv, d, 'GET', '/v1/device/update')).status, 200)

  const page = await browser.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (e) => pageErrors.push(String(e)))
  await signIn(page, srv.url, op)
  await waitForText(page, '.stats', /12\s*devices/)
  await screenshot(page, '01-fleet-overview')

  // watch it progress: each report shows up without a reload
  await page.goto(`${srv.url}/ui/#/rollouts/${id}`)
  await waitForText(page, '[data-testid=total-assigned]', /^12$/)
  for (const d of devs.slice(0, 4)) await report(d, 'downloading')
  await report(devs[0]!, 'succeeded')
  await waitForText(page, '[data-testid=total-healthy]', /^1$/)
  for (const d of devs.slice(1, 4)) await report(d, 'succeeded')
  await waitForText(page, '[data-testid=total-healthy]', /^4$/)
  t.match(await waitForText(page, '[data-testid=verdict]', /waiting: .*8 more healthy devices needed/), /waiting/, 'the gate verdict in words')
  await page.waitForSelector('figure.chart svg')
  await screenshot(page, '02-rollout-progress')

  // pause through the form: a reason and a confirmation are required
  await page.click('button[data-action=pause]')
  await page.waitForSelector('#reason-pause')
  t.ok(await page.$eval('form.action button[type=submit]', (b) => (b as HTMLButtonElement).disabled), 'no submit without reason and confirmation')
  await page.type('#reason-pause', 'investigating a slow boot')
  await page.click('form.action input[name=confirm]')
  await page.click('form.action button[type=submit]')
  await waitForText(page, '[data-testid=rollout-state]', /^paused$/)
  await waitForText(page, '[data-testid=timeline]', /rollout\.pause by token:.* — investigating a slow boot/)

  // the audit log, verified in the browser
  await page.goto(`${srv.url}/ui/#/audit`)
  t.match(await waitForText(page, '[data-testid=audit-verdict]', /Chain verified in this browser: \d+ entries/), /verified/)
  t.match(await page.$eval('[data-testid=audit]', (e) => e.textContent ?? ''), /rollout\.pause.*investigating a slow boot/)
  await screenshot(page, '03-audit-verified')

  // a 409, visible: the state moves on while the form is open
  await call(srv, op, 'POST', `/v1/rollouts/${id}/resume`, { reason: 'false alarm' })
  await page.goto(`${srv.url}/ui/#/rollouts/${id}`)
  await waitForText(page, '[data-testid=rollout-state]', /^running$/)
  await page.click('button[data-action=pause]')
  await page.type('#reason-pause', 'second look')
  await page.click('form.action input[name=confirm]')
  await call(srv, op, 'POST', `/v1/rollouts/${id}/pause`, { reason: 'someone else was faster' })
  await waitForText(page, '[data-testid=rollout-state]', /^paused$/)
  await page.click('form.action button[type=submit]')
  t.match(await waitForText(page, 'form.action [role=alert]', /409/), /409 ROLLOUT_ILLEGAL_TRANSITION: cannot pause a rollout that is paused/)
  await screenshot(page, '04-conflict-409')

  // a breach appears live: two devices fail, the gate pauses the rollout by itself
  await call(srv, op, 'POST', `/v1/rollouts/${id}/resume`, { reason: 'carry on' })
  await page.goto(`${srv.url}/ui/#/rollouts/${id}`)
  await waitForText(page, '[data-testid=rollout-state]', /^running$/)
  await report(devs[4]!, 'failed')
  await report(devs[5]!, 'failed')
  await waitForText(page, '[data-testid=rollout-state]', /^paused$/)
  t.match(await waitForText(page, 'h1 + p', /2 devices failed/), /limit 2/, 'the breach reason shows without a reload')
  await waitForText(page, '[data-testid=timeline]', /rollout\.pause by system:gate/)
  await screenshot(page, '05-breach-live')

  // devices: the list and one device with its progress
  await page.goto(`${srv.url}/ui/#/devices?tag=lab`)
  await waitForText(page, 'main', /6 devices match/)
  await page.goto(`${srv.url}/ui/#/devices/${devs[0]!.deviceId}`)
  await waitForText(page, 'main', /Newest update: rootfs@1\.1\.0/)
  await screenshot(page, '06-device-detail')

  // a download in progress, from the agent's progress events
  const downloading = devs[6]!
  const dseq = (seqs.get(downloading.deviceId) ?? 0) + 1
  seqs.set(downloading.deviceId, dseq)
  const progressed = await deviceCall(srv, downloading, 'POST', '/v1/device/events', {
    events: [{ id: randomUUID(), seq: dseq, rolloutId: id, release: { name: 'rootfs', version: '1.1.0' }, state: 'downloading', progress: { bytes: 1048576, total: 4194304 } }],
  })
  t.equal(progressed.status, 200, progressed.raw.toString())
  await page.goto(`${srv.url}/ui/#/devices/${downloading.deviceId}`)
  t.match(await waitForText(page, '[data-testid=download-progress]', /25%/), /rootfs@1\.1\.0: 1\.0 MiB of 4\.0 MiB \(25%\)/, 'the download progress on the device page')

  // quarantine from the device page: a reason and a confirmation; then the device is refused
  const suspect = devs[11]!
  await page.goto(`${srv.url}/ui/#/devices/${suspect.deviceId}`)
  await waitForText(page, '[data-testid=quarantine-state]', /Not quarantined/)
  await page.click('button[data-action=quarantine]')
  await page.waitForSelector('#dev-quarantine-reason')
  const submitQuarantine = '[data-testid=quarantine-form] button[type=submit]'
  t.ok(await page.$eval(submitQuarantine, (b) => (b as HTMLButtonElement).disabled), 'no quarantine without a reason and a confirmation')
  await page.type('#dev-quarantine-reason', 'unexpected outbound traffic')
  t.ok(await page.$eval(submitQuarantine, (b) => (b as HTMLButtonElement).disabled), 'nor with a reason alone')
  await page.click('[data-testid=quarantine-form] input[name=confirm]')
  await page.click(submitQuarantine)
  await waitForText(page, '[data-testid=quarantine-state]', /Quarantined.* — unexpected outbound traffic/)
  await waitForText(page, 'main', /device\.quarantine by token:.* — unexpected outbound traffic/)
  await screenshot(page, '08-device-quarantined')
  const refusedDevice = await deviceCall(srv, suspect, 'GET', '/v1/device/update')
  t.equal(refusedDevice.status, 403, 'the quarantined device is refused by the device API')
  await page.goto(`${srv.url}/ui/#/`)
  await waitForText(page, '.stats', /1\s*quarantined/)

  // read-only: a viewer sees everything and cannot act
  const ctx = await browser.createBrowserContext()
  const vpage = await ctx.newPage()
  await signIn(vpage, srv.url, await srv.token('viewer'))
  await vpage.goto(`${srv.url}/ui/#/rollouts/${id}`)
  t.match(await waitForText(vpage, '[data-testid=read-only]', /Read-only token \(viewer\)/), /cannot|not act/)
  t.ok(await vpage.$$eval('[data-testid=read-only] button', (bs) => bs.length > 0 && bs.every((b) => (b as HTMLButtonElement).disabled)), 'every action is disabled')
  const refused = await vpage.evaluate(async (rid: string) => {
    const res = await fetch(`/v1/rollouts/${rid}/resume`, { method: 'POST', headers: { authorization: `Bearer ${sessionStorage.getItem('slipway.token')}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'x' }) })
    return { status: res.status, body: await res.json() }
  }, id)
  t.same([refused.status, refused.body.error.code], [403, 'AUTH_FORBIDDEN'], 'and the server refuses it anyway')
  await screenshot(vpage, '07-read-only')
  await vpage.goto(`${srv.url}/ui/#/devices/${devs[10]!.deviceId}`)
  await waitForText(vpage, '[data-testid=quarantine-read-only]', /Read-only token \(viewer\)/)
  t.ok(await vpage.$eval('[data-testid=quarantine-read-only] button', (b) => (b as HTMLButtonElement).disabled), 'a viewer cannot quarantine from the page')
  const refusedQuarantine = await vpage.evaluate(async (did: string) => {
    const res = await fetch(`/v1/devices/${did}/quarantine`, { method: 'POST', headers: { authorization: `Bearer ${sessionStorage.getItem('slipway.token')}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'x' }) })
    return { status: res.status, body: await res.json() }
  }, devs[10]!.deviceId)
  t.same([refusedQuarantine.status, refusedQuarantine.body.error.code], [403, 'AUTH_FORBIDDEN'], 'nor through the API')
  await ctx.close()

  t.same(pageErrors, [], 'no script error on any page')
})
