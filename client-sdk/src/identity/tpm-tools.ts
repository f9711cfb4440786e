/**
 * Runs tpm2-tools (argv, no shell) against the TPM named by a TCTI, one command
 * at a time per TCTI, and translates failures at the adapter boundary:
 * not installed → TPM_TOOL_MISSING, non-zero exit → TPM_FAILED.
 *
 * Without a resource manager (`device:/dev/tpm0`, `swtpm:`), transient objects and
 * sessions a tool loaded stay in the TPM's few slots after it exits, and the third
 * call fails with 0x902 "out of memory for object contexts"; so after each call we
 * run `tpm2_flushcontext -t` and `-s`. The kernel resource manager (`/dev/tpmrm0`)
 * and tpm2-abrmd flush per connection themselves, so there it is skipped. The
 * one-at-a-time queue matters for the same reason: a flush must not drop the
 * objects of a command that is still running.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AgentError } from '../errors.js'

/** The agent config's `tpm` section. */
export interface TpmConfig {
  /** TCTI for tpm2-tools: `device:/dev/tpmrm0` (kernel resource manager, the usual choice), `tabrmd:`, `swtpm:host=127.0.0.1,port=2321` */
  tcti: string
  /** persistent handle of the device key in the owner range 0x81000000–0x817fffff (default 0x81010002) */
  keyHandle?: string
  /** folder for the tools' short-lived files (public parts, contexts; never a private key); default the OS temp folder */
  workDir?: string
  /** flush transient objects and sessions after each call (default: on unless the TCTI is a resource manager) */
  flush?: boolean
  /** seconds one tool call may take (default 60) */
  timeoutSeconds?: number
}

export const DEFAULT_KEY_HANDLE = '0x81010002'

const queues = new Map<string, Promise<unknown>>()

export class TpmTools {
  private readonly env: NodeJS.ProcessEnv
  private readonly flush: boolean

  constructor(readonly config: TpmConfig) {
    if (typeof config.tcti !== 'string' || !config.tcti) throw new AgentError('CONFIG_INVALID', 'config: tpm.tcti must be a non-empty string', { field: 'tpm.tcti' })
    this.env = { ...process.env, TPM2TOOLS_TCTI: config.tcti, LC_ALL: 'C' }
    this.flush = config.flush ?? !/^(device:\/dev\/tpmrm|tabrmd)/.test(config.tcti)
  }

  /**
   * Run one tpm2 tool (e.g. `['tpm2_sign', ...]`), then flush; serialized with every other call on this TCTI.
   * `flushOnErrorOnly`: for a call that loads no object or session (a digest signature with a persistent
   * key, made on every device request), flush only when it failed midway: one process instead of three.
   */
  run(argv: readonly string[], o: { flushOnErrorOnly?: boolean } = {}): Promise<string> {
    return this.runSequence([argv], o)
  }

  /**
   * Run tools back to back with no flush in between (a policy session saved by one
   * and used by the next would be flushed otherwise), then flush; returns the last stdout.
   */
  runSequence(argvs: readonly (readonly string[])[], o: { flushOnErrorOnly?: boolean } = {}): Promise<string> {
    const prev = queues.get(this.config.tcti) ?? Promise.resolve()
    const next = prev.catch(() => undefined).then(async () => {
      let failed = true
      try {
        let out = ''
        for (const argv of argvs) out = await this.exec(argv)
        failed = false
        return out
      } finally {
        if (this.flush && (failed || !o.flushOnErrorOnly)) {
          await this.exec(['tpm2_flushcontext', '-t']).catch(() => undefined)
          await this.exec(['tpm2_flushcontext', '-s']).catch(() => undefined)
        }
      }
    })
    queues.set(this.config.tcti, next)
    return next
  }

  /** A private (0700) folder for one operation's files, removed afterwards whatever happens. */
  async withWorkDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(this.config.workDir ?? tmpdir(), 'slipway-tpm-'))
    try {
      return await fn(dir)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }

  private exec(argv: readonly string[]): Promise<string> {
    const [file, ...args] = argv as [string, ...string[]]
    const timeout = (this.config.timeoutSeconds ?? 60) * 1000
    return new Promise((resolve, reject) => {
      execFile(file, args, { env: this.env, timeout, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout)
        if ((err as NodeJS.ErrnoException).code === 'ENOENT')
          return reject(new AgentError('TPM_TOOL_MISSING', `${file} not found: install tpm2-tools (Debian: apt-get install tpm2-tools)`, { tool: file }, { cause: err }))
        const tail = stderr.trim().split('\n').slice(-3).join(' | ').slice(-500)
        reject(new AgentError('TPM_FAILED', `${argv.join(' ')} failed: ${tail || err.message}`, { tool: file, exitCode: err.code, stderr: stderr.slice(-2000) }, { cause: err }))
      })
    })
  }
}

/** True when a TPM_FAILED error says the handle holds no object (TPM_RC_HANDLE, 0x18b). */
export const isHandleMissing = (e: unknown): boolean =>
  e instanceof AgentError && e.code === 'TPM_FAILED' && /0x0*18b\b/i.test(String(e.details?.stderr ?? e.message))
