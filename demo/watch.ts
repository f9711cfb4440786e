/** Follows one rollout for the demo's story: a line per transition, and the phase counts and the gate's verdict as they move. */
import { sleep } from './agent-device.js'

type Api = (method: string, path: string, body?: unknown) => Promise<any>

const counts = (p: any) => `assigned ${p.members.assigned}, healthy ${p.members.healthy}, failed ${p.members.failed}${p.members.reverted ? `, reverted ${p.members.reverted}` : ''}`

/** Resolves with the rollout view once `done` says so; throws `stopped` once `cancelled`. */
export async function watchRollout(api: Api, id: string, say: (line: string) => void, done: (view: any) => Promise<boolean>, cancelled: () => boolean, timeoutMs = 300_000): Promise<any> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  let lastProgress = ''
  let lastProgressAt = 0
  for (;;) {
    if (cancelled()) throw new Error('stopped')
    const view = await api('GET', `/v1/rollouts/${id}`)
    const r = view.rollout
    const where = `${r.state}/${r.phase}`
    if (where !== last) {
      if (last) say(`   → ${r.state}${r.state === 'running' ? `, phase ${r.phase + 1} (${view.phases[r.phase].percent}%)` : ''}${r.stateReason ? `: ${r.stateReason}` : ''}`)
      last = where
    }
    const phase = view.phases[r.phase]
    const progress = phase ? `   phase ${r.phase + 1}: ${counts(phase)}${view.gate ? ` · gate: ${view.gate.verdict}: ${view.gate.reason}` : ''}` : ''
    // a line when the counts moved, at most every two seconds
    if (progress && progress !== lastProgress && Date.now() - lastProgressAt > 2000) {
      say(progress)
      lastProgress = progress
      lastProgressAt = Date.now()
    }
    if (await done(view)) return view
    if (Date.now() > deadline) throw new Error(`rollout ${id} did not finish in time: ${JSON.stringify(r)}`)
    await sleep(1000, cancelled)
  }
}
