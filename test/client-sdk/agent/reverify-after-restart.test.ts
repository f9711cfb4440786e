/**
 * Re-verify after a restart (issue 18 §2): an agent that stopped at `written` has lost
 * the streaming hash that checked the image on its way into the slot, so on the next
 * start it reads the slot back and checks it against the CI-signed sha256 before it
 * marks a trial. That read-back is the only check between a slot changed while the
 * agent was down and a trial boot of it. The restart is made by hand: the journal of an
 * update that went through is put back at `written` and the trial mark undone, as a
 * power cut right after the `written` step leaves them.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createAgent, silentLog } from '../../../client-sdk/src/index.js'
import { fakeApi, offer, releaseOf, simDevice, trustKit } from './device-fixtures.js'

const imageA = Buffer.alloc(200_000, 1)
const imageB = Buffer.alloc(300_000, 2)

/** A device whose update to imageB stopped right after `written`; `tamper` changes slot b meanwhile. */
async function stoppedAtWritten(t: Test, tamper?: (slot: Buffer) => Buffer) {
  const api = await fakeApi(t, await trustKit())
  const dev = await simDevice(t, api, { imageA, installed: releaseOf(imageA, { version: '1.0.0' }) })
  await offer(api, { image: imageB, release: releaseOf(imageB, { version: '2.0.0' }) })
  t.equal((await dev.agent.tick()).outcome, 'reboot-issued', 'the update went through once')
  dev.agent.close()

  const journalPath = join(dev.config.dataDir, 'journal.json')
  const j = JSON.parse(await readFile(journalPath, 'utf8'))
  t.equal(j.update.step, 'rebooting', 'past the trial mark, waiting for the reboot')
  j.update.step = 'written'
  delete j.slots.b // not verified yet: no claim on the slot
  await writeFile(journalPath, JSON.stringify(j))
  const statePath = join(dev.slotsDir, 'state.json')
  const st = JSON.parse(await readFile(statePath, 'utf8'))
  delete st.trying
  await writeFile(statePath, JSON.stringify(st))
  if (tamper) await writeFile(join(dev.slotsDir, 'slot-b.img'), tamper(await dev.slot('b')))

  dev.agent = await createAgent(dev.config, { log: silentLog })
  const eventsBefore = api.events.length
  const r = await dev.agent.tick()
  return { r, dev, api, events: api.events.slice(eventsBefore) }
}

t.test('a slot left intact since `written`: verified again, then marked to try', async (t) => {
  const { r, dev } = await stoppedAtWritten(t)
  t.equal(r.outcome, 'reboot-issued')
  t.match(await dev.slotState(), { active: 'a', trying: 'b' })
})

t.test('a slot changed since `written` (one byte): refused, never marked to try, reported failed', async (t) => {
  const { r, dev, events } = await stoppedAtWritten(t, (slot) => {
    const b = Buffer.from(slot)
    b[150_000] = b[150_000]! ^ 0x01
    return b
  })
  t.not(r.outcome, 'reboot-issued', `outcome ${r.outcome}`)
  const st = await dev.slotState()
  t.equal(st.trying, undefined, 'no trial of the changed slot')
  t.equal(st.active, 'a')
  const status = await dev.agent.status()
  t.match(status.journal.update, { step: 'failed', reason: { code: 'PAYLOAD_HASH_MISMATCH' } })
  t.match(events.at(-1), { state: 'failed', reason: { code: 'PAYLOAD_HASH_MISMATCH' } })
})

t.test('a slot cut short since `written`: refused as a short slot', async (t) => {
  const { dev } = await stoppedAtWritten(t, (slot) => slot.subarray(0, 100_000))
  t.equal((await dev.slotState()).trying, undefined)
  t.match((await dev.agent.status()).journal.update, { step: 'failed', reason: { code: 'SLOT_WRITE_FAILED' } })
})
