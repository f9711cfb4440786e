/** Runs the real `slipway` and `slipway-agent` bins as child processes. */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { freePort } from './net.js'

export const SLIPWAY_BIN = fileURLToPath(new URL('../../server/bin/slipway.mjs', import.meta.url))
export const AGENT_BIN = fileURLToPath(new URL('../../client-sdk/bin/slipway-agent.mjs', import.meta.url))

type Run = { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> }

export const slipway = (args: string[], env: Record<string, string>): Run => runBin(SLIPWAY_BIN, args, env)
export const slipwayAgent = (args: string[], env: Record<string, string> = {}): Run => runBin(AGENT_BIN, args, env)

function runBin(bin: string, args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (c) => (stdout += c))
  child.stderr!.on('data', (c) => (stderr += c))
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  )
  return { child, done }
}

/** Waits until `predicate(output so far)` holds on the child's stdout+stderr. */
export function waitForOutput(child: ChildProcess, predicate: (text: string) => boolean, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(new Error(`timed out waiting for output; got:\n${text}`)), timeoutMs)
    const on = (c: Buffer) => {
      text += c.toString()
      if (predicate(text)) {
        clearTimeout(timer)
        resolve(text)
      }
    }
    child.stdout!.on('data', on)
    child.stderr!.on('data', on)
    child.on('close', () => {
      clearTimeout(timer)
      if (!predicate(text)) reject(new Error(`process exited before expected output:\n${text}`))
    })
  })
}

/**
 * What `slipway start` needs in a test: a temp folder (the data folder is `dir/data`,
 * removed after `t`), a free loopback port and a fresh admin token.
 */
export async function serverEnv(t: Test, prefix: string): Promise<{ dir: string; port: number; admin: string; env: Record<string, string> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const port = await freePort()
  const admin = 'slw_' + randomBytes(32).toString('base64url')
  return { dir, port, admin, env: { SLIPWAY_DATA_DIR: join(dir, 'data'), PORT: String(port), SLIPWAY_ADMIN_TOKEN: admin, LOG_LEVEL: 'warn' } }
}
