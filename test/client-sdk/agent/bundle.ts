/**
 * Builds the single-file agent bundle into a temp folder (the real
 * `npm run build:agent` script) for tests that run it as a process.
 * Not a test file: tap runs only `*.test.ts`.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

export const BUILD_SCRIPT = fileURLToPath(new URL('../../../client-sdk/scripts/build-agent.mjs', import.meta.url))

/** Path of a fresh bundle alone in an empty folder, and the build script's output. */
export async function buildBundle(t: Test): Promise<{ path: string; dir: string; printed: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-bundle-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'slipway-agent.cjs')
  const r = spawnSync(process.execPath, [BUILD_SCRIPT], { env: { ...process.env, SLIPWAY_AGENT_OUTFILE: path }, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}${r.stdout}`)
  return { path, dir, printed: r.stdout }
}
