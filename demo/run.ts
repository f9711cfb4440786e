/**
 * `npm run demo`: the whole story in about two minutes, with the console open at the
 * printed URL; then everything keeps running for you to explore until Ctrl-C, which
 * stops the devices and the server and removes the temp folder (nothing is written
 * outside it). `--exit-when-done` stops by itself once the story is told (CI).
 * The last story line is `DEMO_OUTCOME <json>` for scripts (test/demo/demo.test.ts).
 *
 * Environment: PORT (default 8080; a taken port falls back to a free one),
 * DEMO_DEVICES (200), DEMO_AGENTS (20), DEMO_SOAK_SECONDS (20), DEMO_PAUSE_SECONDS (10),
 * DEMO_POLL_SECONDS (3).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startDemoServer } from './server.js'
import { tellStory, type Story } from './story.js'

const num = (name: string, dflt: number): number => {
  const v = process.env[name]
  if (v === undefined || v === '') return dflt
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number ≥ 0, got ${JSON.stringify(v)}`)
  return n
}

const exitWhenDone = process.argv.includes('--exit-when-done')
const t0 = Date.now()
const say = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}`)

const devices = num('DEMO_DEVICES', 200)
const agents = Math.min(num('DEMO_AGENTS', 20), devices)
const pollIntervalSeconds = num('DEMO_POLL_SECONDS', 3)
const dir = await mkdtemp(join(tmpdir(), 'slipway-demo-'))
let story: Story | undefined
let closing: Promise<void> | undefined

const server = await startDemoServer({ dir, port: num('PORT', 8080), pollIntervalSeconds }).catch(async (e) => {
  await rm(dir, { recursive: true, force: true })
  throw e
})

async function shutdown(code: number): Promise<void> {
  closing ??= (async () => {
    say('stopping: devices, then the server, then the temp folder')
    await story?.stop()
    await server.close()
    await rm(dir, { recursive: true, force: true })
    say(`removed ${dir}; bye`)
    process.exit(code)
  })()
  return closing
}
process.on('SIGINT', () => void shutdown(0))
process.on('SIGTERM', () => void shutdown(0))

const viewer = await server.token('viewer')
const operator = await server.token('operator')
console.log(`
Slipway demo — temp folder ${dir} (server log: ${join(dir, 'server.log')})
  console:        ${server.url}/ui/
  operator token: ${operator}
  viewer token:   ${viewer}   (read-only: sees everything, cannot act)
  admin token:    ${server.adminToken}
`)
story = tellStory({ dir, server, devices, agents, fragileShare: 0.3, soakSeconds: num('DEMO_SOAK_SECONDS', 20), pauseSeconds: num('DEMO_PAUSE_SECONDS', 10), pollIntervalSeconds, say })
story.outcome.then(
  (outcome) => {
    say(`the story is told in ${((Date.now() - t0) / 1000).toFixed(0)} s.${exitWhenDone ? '' : ' Everything keeps running: explore the console; Ctrl-C stops it all and removes the temp folder.'}`)
    console.log(`DEMO_OUTCOME ${JSON.stringify(outcome)}`)
    if (exitWhenDone) void shutdown(0)
  },
  (e: unknown) => {
    if (closing) return
    say(`the demo failed: ${(e as Error).stack ?? e}`)
    void shutdown(1)
  },
)
