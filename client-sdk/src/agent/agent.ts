/**
 * `createAgent(config)`: the device agent as a library. `tick()` does one round
 * (finish a boot transition, flush reports, poll, install); `run()` repeats it
 * on the server's schedule until the signal aborts. All state is in the journal
 * and the bootloader, so a new agent on the same config picks up where any
 * earlier one stopped.
 */
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AgentConfig } from '../config/agent-config.js'
import { AgentError } from '../errors.js'
import { loadCredential, type DeviceCredential } from '../identity/credential.js'
import { FileDeviceKey, type DeviceKey } from '../identity/device-key.js'
import { TpmDeviceKey } from '../identity/tpm-key.js'
import { tpmAttestationFor } from '../identity/tpm-enroll.js'
import { enroll, renew, renewalDue } from '../identity/enroll.js'
import { loadTls } from '../identity/tls.js'
import { Journal, TERMINAL_STEPS, type JournalState } from '../journal/journal.js'
import { jsonLog, type Log } from '../log.js'
import { DeviceApi } from '../net/device-api.js'
import { HttpClient } from '../net/http-client.js'
import { Outbox } from '../report/outbox.js'
import { Reporter } from '../report/reporter.js'
import { createSlotAdapter, type SlotAdapter, type SlotStatus } from '../slots/index.js'
import { bootPhasePending, runBootPhase } from './boot-step.js'
import type { StepOutcome, UpdateContext } from './context.js'
import { reportTerminal } from './events.js'
import { Heartbeat } from './heartbeat.js'
import { runInstall } from './install-step.js'
import { runModelUpdate } from './model-step.js'
import { pollOnce, type PollOutcome } from './poll-step.js'
import { adoptProvisionedModels } from './provisioned-models.js'
import { clearProgress, progressTracker, readProgress, type ProgressView } from './progress.js'
import { keepReserve } from './data-space.js'
import { nextDelaySeconds } from './schedule.js'
import { InventoryReporter } from './inventory-step.js'
import { IntegrityChecker, type IntegrityResult } from './integrity-step.js'

export interface TickResult {
  /** what the update did this round */
  outcome: StepOutcome
  poll?: PollOutcome['kind']
  /** seconds the server asked between polls */
  pollIntervalSeconds?: number
}

export interface AgentStatus {
  deviceId?: string
  server: string
  slots?: SlotStatus
  slotsError?: string
  journal: JournalState
  /** the download in progress: bytes so far (updated about once a second) */
  progress?: ProgressView
  queuedReports: number
}

export interface Agent {
  /** one round; throws on a transient error (network, server) so the caller backs off */
  tick(): Promise<TickResult>
  /** ticks until `signal` aborts; after `reboot-issued` waits for the reboot to stop the process */
  run(signal?: AbortSignal): Promise<void>
  enroll(enrollmentToken: string): Promise<DeviceCredential>
  /** re-hash the active slot and live models now (the schedule does it every integrityIntervalSeconds) */
  checkIntegrity(): Promise<IntegrityResult[]>
  status(): Promise<AgentStatus>
  close(): void
}

export interface AgentDeps {
  log?: Log
  /** slot adapter override (tests, simulators) */
  slots?: SlotAdapter
  /** seconds to wait after a reboot command before ticking again (default 300) */
  rebootWaitSeconds?: number
  /** the device key (e.g. TPM-resident); default: the file key at config.keyFile, created at the first enrollment */
  deviceKey?: DeviceKey
  /** clock for certificate renewal and heartbeats (tests) */
  now?: () => number
}

export async function createAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<Agent> {
  const log = deps.log ?? jsonLog(config.logLevel)
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
  const credentialFile = config.credentialFile ?? join(config.dataDir, 'credential.json')
  let credential = await loadCredential(credentialFile)
  const keyFile = config.keyFile ?? join(config.dataDir, 'device-key.pem')
  // config.tpm: the key lives in the TPM (created at its handle on first start); else a file key
  let key: DeviceKey | undefined = deps.deviceKey ?? (config.tpm ? await TpmDeviceKey.open(config.tpm) : await FileDeviceKey.load(keyFile))
  const http = new HttpClient({ ...(config.tls ? { tls: await loadTls(config.tls) } : {}) })
  // a certificate and the key sign every request; an old enrollment's bearer credential until it re-enrolls
  const api = new DeviceApi(
    new URL(config.server),
    http,
    () => (credential?.serial && key ? { key, serial: credential.serial } : credential?.credential),
    (config.requestDeadlineSeconds ?? 60) * 1000,
  )
  const now = deps.now ?? Date.now
  const journal = await Journal.open(join(config.dataDir, 'journal.json'))
  if (!journal.state.os && config.installed) {
    const installed = config.installed
    await journal.change((s) => {
      s.os = installed
      s.securityVersion = Math.max(s.securityVersion, installed.securityVersion)
    })
  }
  if (config.models) await adoptProvisionedModels(config.models, journal)
  const reporter = new Reporter(await Outbox.open(join(config.dataDir, 'outbox')), api, log)
  const slots = deps.slots ?? createSlotAdapter(config.slots)
  const ctx: UpdateContext = { config, journal, slots, http, api, reporter, log, stagingDir: join(config.dataDir, 'staging') }

  ctx.progress = progressTracker(ctx)
  const heartbeat = new Heartbeat(config.heartbeatSeconds, now)
  const inventory = new InventoryReporter(config.dataDir)
  const integrity = new IntegrityChecker(config.dataDir)
  /** idle work after a poll: the inventory when it changed (or first since start), a due integrity check in the background */
  async function idleWork(): Promise<void> {
    await inventory.maybeSend(ctx)
    if (await integrity.due(ctx).catch(() => false))
      void integrity.run(ctx).catch((e: unknown) => log('warn', 'integrity check failed', { message: (e as Error).message }))
  }
  const pending = () => {
    const u = journal.update
    if (!u || TERMINAL_STEPS.has(u.step)) return false
    // a model has no reboot: every step before the end is this agent's to finish
    return u.release.kind === 'model' || ['accepted', 'downloading', 'written', 'verified'].includes(u.step)
  }
  // leftovers of a finished update (a kill just after its commit left a patch behind) are never needed again
  if (!journal.update || TERMINAL_STEPS.has(journal.update.step)) {
    await rm(ctx.stagingDir, { recursive: true, force: true })
    await clearProgress(config.dataDir)
  }
  await keepReserve(config.dataDir, log)

  async function tick(): Promise<TickResult> {
    await reportTerminal(ctx) // an earlier run may have died between a terminal step and its report
    let boot: StepOutcome = 'idle'
    if (await bootPhasePending(ctx)) {
      boot = await runBootPhase(ctx)
      if (boot === 'reboot-issued' || boot === 'retry-later') return { outcome: boot }
    }
    if (credential && heartbeat.due() && !pending()) await heartbeat.beat(ctx)
    await reporter.flush()
    if (!credential) throw new AgentError('NOT_ENROLLED', 'no device credential: run `slipway-agent enroll` first')
    await renewIfDue()
    const poll = await pollOnce(ctx, credential.deviceId)
    const interval = poll.pollIntervalSeconds ? { pollIntervalSeconds: poll.pollIntervalSeconds } : {}
    // what the boot phase finished (committed, rolled-back) is this round's news unless a new install follows
    if (!pending()) {
      await idleWork()
      return { outcome: boot, poll: poll.kind, ...interval }
    }
    await mkdir(ctx.stagingDir, { recursive: true })
    if (journal.update?.release.kind === 'model') return { outcome: await runModelUpdate(ctx), poll: poll.kind, ...interval }
    const outcome = await runInstall(ctx)
    if (outcome !== 'installed') return { outcome, poll: poll.kind, ...interval }
    return { outcome: await runBootPhase(ctx), poll: poll.kind, ...interval }
  }

  /** Renew the certificate at 2/3 of its lifetime; a failure leaves the current one (still valid) in use. */
  async function renewIfDue(): Promise<void> {
    if (!credential || !key || !renewalDue(credential, now())) return
    try {
      credential = await renew(api, credential, key, credentialFile)
      log('info', 'device certificate renewed', { serial: credential.serial, notAfter: credential.notAfter })
    } catch (e) {
      const err = e as AgentError
      log('warn', 'certificate renewal failed', { code: err.code ?? 'AGENT_INTERNAL', message: err.message })
    }
  }

  async function run(signal?: AbortSignal): Promise<void> {
    let errors = 0
    const schedule = {
      pollIntervalSeconds: config.pollIntervalSeconds ?? 300,
      jitter: config.pollJitter ?? 0.1,
      backoffInitialSeconds: config.backoffInitialSeconds ?? 5,
      backoffMaxSeconds: config.backoffMaxSeconds ?? 3600,
    }
    if (signal) ctx.stop = signal
    while (!signal?.aborted) {
      let wait: number
      try {
        const r = await tick()
        errors = r.outcome === 'retry-later' ? errors + 1 : 0
        wait = r.outcome === 'reboot-issued' ? (deps.rebootWaitSeconds ?? 300) : nextDelaySeconds(schedule, errors, r.pollIntervalSeconds)
        // finished work: look again soon rather than a whole interval later
        if (r.outcome === 'committed' || r.outcome === 'failed' || r.outcome === 'rolled-back') wait = Math.min(wait, 1)
      } catch (e) {
        errors++
        const err = e as AgentError
        log(err.code === 'NOT_ENROLLED' ? 'error' : 'warn', 'tick failed', { code: err.code ?? 'AGENT_INTERNAL', message: err.message })
        wait = nextDelaySeconds(schedule, errors)
      }
      await sleep(wait * 1000, undefined, { signal }).catch(() => undefined)
    }
  }

  return {
    tick,
    run,
    async enroll(token) {
      const s = journal.state
      if (!key) {
        const fresh = FileDeviceKey.generate(config.keyType ?? 'ed25519')
        await fresh.save(keyFile)
        key = fresh
      }
      credential = await enroll(
        api,
        {
          enrollmentToken: token,
          hardwareId: config.hardwareId,
          hardware: config.hardware,
          ...(config.tags ? { tags: config.tags } : {}),
          installed: s.os ? [s.os, ...Object.values(s.models)] : Object.values(s.models),
          ...(key instanceof TpmDeviceKey ? await tpmAttestationFor(api, key, token, log) : {}),
        },
        key,
        credentialFile,
      )
      return credential
    },
    checkIntegrity: () => integrity.run(ctx),
    async status() {
      const progress = await readProgress(config.dataDir)
      let slotStatus: SlotStatus | undefined
      let slotsError: string | undefined
      try {
        slotStatus = await slots.status()
      } catch (e) {
        slotsError = (e as Error).message
      }
      return {
        ...(credential ? { deviceId: credential.deviceId } : {}),
        server: config.server,
        ...(slotStatus ? { slots: slotStatus } : {}),
        ...(slotsError ? { slotsError } : {}),
        journal: structuredClone(journal.state) as JournalState,
        ...(progress && journal.update?.step === 'downloading' && journal.update.id === progress.updateId ? { progress } : {}),
        queuedReports: (await Outbox.open(join(config.dataDir, 'outbox'))).size,
      }
    },
    close: () => http.close(),
  }
}
