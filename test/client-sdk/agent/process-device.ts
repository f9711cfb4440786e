/**
 * A simulated device whose agent is a real process (the single-file bundle,
 * `run --once` per boot-round) that can be SIGKILLed anywhere. The reboot
 * command only drops a marker; the harness then "power cycles": the simulated
 * firmware boots (`bootFileSlots`) and a new agent process starts, exactly what
 * a real reboot or power cut leaves behind.
 * Not a test file: tap runs only `*.test.ts`.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { bootFileSlots, readFileSlotsState, type FileSlotsState } from '../../../client-sdk/src/slots/index.js'
import type { AgentConfig } from '../../../client-sdk/src/index.js'

export interface AgentRun {
  /** exit code, or null when killed */
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export function runAgent(bundle: string, configFile: string, env: Record<string, string> = {}): Promise<AgentRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bundle, 'run', '--once', '--config', configFile],
      { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 60_000 },
      (e, stdout, stderr) => {
        const err = e as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, signal: err?.signal ?? null, stdout, stderr })
      },
    )
  })
}

export interface ProcessDevice {
  configFile: string
  rebootMarker: string
  slotsDir: string
  /** one agent process; when it asked for a reboot (or died after asking), the firmware boots */
  round(env?: Record<string, string>): Promise<AgentRun & { rebooted: boolean; before: FileSlotsState }>
  state(): Promise<FileSlotsState>
  journal(): Promise<any>
}

export async function processDevice(bundle: string, dir: string, config: AgentConfig, slotsDir: string): Promise<ProcessDevice> {
  const rebootMarker = join(dir, 'reboot-requested')
  const configFile = join(dir, 'agent.json')
  await writeFile(configFile, JSON.stringify({ ...config, logLevel: 'error', slots: { ...config.slots, rebootCommand: ['touch', rebootMarker] } }))
  return {
    configFile,
    rebootMarker,
    slotsDir,
    async round(env = {}) {
      const r = await runAgent(bundle, configFile, env)
      const before = await readFileSlotsState(slotsDir)
      const rebooted = existsSync(rebootMarker)
      if (rebooted) {
        await rm(rebootMarker)
        await bootFileSlots(slotsDir)
      }
      return { ...r, rebooted, before }
    },
    state: () => readFileSlotsState(slotsDir),
    journal: async () => JSON.parse(await readFile(join(config.dataDir, 'journal.json'), 'utf8')),
  }
}
