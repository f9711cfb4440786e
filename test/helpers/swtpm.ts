/**
 * A real software TPM 2.0 per test: Debian's `swtpm`, manufactured by `swtpm_setup`
 * with an RSA and an ECC endorsement key and EK certificates issued by a LOCAL test CA
 * (`swtpm_localca`, which creates its root and intermediate in `caDir` the first time:
 * generated at test time, never committed). Pass the same `caDir` to two TPMs to give
 * them one EK CA; leave it out for a CA of their own.
 *
 * swtpm serves the TPM command port P and the control port P + 1 (where the swtpm TCTI
 * looks for it) on loopback, P chosen free at run time. There is no resource manager
 * in front of it: callers flush transient objects and sessions after each tool call
 * (`tpm2_flushcontext -t` / `-s`), as the agent's TPM runner does. Stopped in teardown. Fails loudly, never skips, when the
 * tools are missing.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { freePort } from './net.js'

const run = promisify(execFile)
const APT = 'apt-get install -y swtpm swtpm-tools tpm2-tools'

/** A tool the TPM tests need is not installed: the test fails with this, never skips. */
export class TpmToolMissing extends Error {
  readonly code = 'TEST_TOOL_MISSING'
  constructor(tool: string) {
    super(`${tool} is not installed: TPM tests cannot run (${APT})`)
  }
}

export interface Swtpm {
  /** TCTI string for tpm2-tools (`TPM2TOOLS_TCTI`) and the agent's `tpm.tcti` */
  readonly tcti: string
  readonly stateDir: string
  /** the CA folder (pass to another `startSwtpm` to share the EK CA) */
  readonly caDir: string
  /** PEM bundle that the EK certificates chain to: the local root and its intermediate */
  ekCaPem(): Promise<string>
  /** environment for running tpm2-tools directly against this TPM */
  readonly env: NodeJS.ProcessEnv
  /** power-cycle: stop swtpm and start it again on the same state (persistent keys survive) */
  restart(): Promise<void>
  stop(): Promise<void>
}

/** Throws, naming the apt-get line, unless swtpm, swtpm_setup and tpm2-tools are installed. */
export async function requireTpmTools(): Promise<void> {
  for (const [tool, arg] of [['swtpm', '--version'], ['swtpm_setup', '--version'], ['swtpm_localca', '--help'], ['tpm2_createprimary', '--version']] as const) {
    try {
      await run(tool, [arg])
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new TpmToolMissing(tool)
    }
  }
}

async function manufacture(stateDir: string, caDir: string, confDir: string): Promise<void> {
  const localCa = join(confDir, 'swtpm-localca.conf')
  const options = join(confDir, 'swtpm-localca.options')
  const setup = join(confDir, 'swtpm_setup.conf')
  await writeFile(localCa, `statedir = ${caDir}\nsigningkey = ${join(caDir, 'signkey.pem')}\nissuercert = ${join(caDir, 'issuercert.pem')}\ncertserial = ${join(caDir, 'certserial')}\n`)
  await writeFile(options, '--platform-manufacturer Slipway\n--platform-version 2.1\n--platform-model test\n')
  await writeFile(setup, `create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = ${localCa}\ncreate_certs_tool_options = ${options}\nactive_pcr_banks = sha256\n`)
  try {
    await run('swtpm_setup', ['--tpm2', '--tpmstate', stateDir, '--create-ek-cert', '--create-platform-cert', '--overwrite', '--config', setup], { timeout: 120_000 })
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; stdout?: string }
    if (err.code === 'ENOENT') throw new TpmToolMissing('swtpm_setup')
    throw new Error(`swtpm_setup failed: ${err.stderr ?? ''}${err.stdout ?? ''}`.slice(0, 4000))
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

/** Start swtpm on two free ports; retried on a port race (another process took the port first). */
async function launch(stateDir: string, log: string[]): Promise<{ child: ChildProcess; port: number }> {
  let last = ''
  for (let attempt = 0; attempt < 5; attempt++) {
    // the swtpm TCTI takes the control channel to be port + 1
    const port = await freePort()
    const ctrl = port + 1
    if (!(await bindable(ctrl))) continue
    const child = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${stateDir}`, '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${ctrl},bindaddr=127.0.0.1`, '--flags', 'startup-clear'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout!.on('data', (d) => log.push(String(d)))
    child.stderr!.on('data', (d) => log.push(String(d)))
    let exited = false
    child.once('exit', () => (exited = true))
    const spawnError = new Promise<Error>((r) => child.once('error', r))
    for (let i = 0; i < 200 && !exited; i++) {
      const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(r, 25))])
      if (failed) {
        if ((failed as NodeJS.ErrnoException).code === 'ENOENT') throw new TpmToolMissing('swtpm')
        throw failed
      }
      if (await connects(port)) return { child, port }
    }
    last = log.join('').slice(-2000)
    child.kill('SIGKILL')
  }
  throw new Error(`swtpm did not start: ${last}`)
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => (clearTimeout(timer), resolve()))
    child.kill('SIGTERM')
  })
}

/** A manufactured, running swtpm for this test; stopped and deleted in teardown. */
export async function startSwtpm(t: Test, o: { caDir?: string } = {}): Promise<Swtpm> {
  await requireTpmTools()
  const dir = await mkdtemp(join(tmpdir(), 'slipway-swtpm-'))
  let child: ChildProcess | undefined
  t.teardown(async () => {
    if (child) await stopChild(child)
    await rm(dir, { recursive: true, force: true })
  })
  const stateDir = join(dir, 'state')
  const caDir = o.caDir ?? join(dir, 'ca')
  await mkdir(stateDir)
  await mkdir(caDir, { recursive: true })
  await manufacture(stateDir, caDir, dir)
  const log: string[] = []
  let port: number
  ;({ child, port } = await launch(stateDir, log))
  const env = { ...process.env, TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${port}` }
  const tpm: Swtpm = {
    get tcti() {
      return `swtpm:host=127.0.0.1,port=${port}`
    },
    stateDir,
    caDir,
    env,
    async ekCaPem() {
      const root = await readFile(join(caDir, 'swtpm-localca-rootca-cert.pem'), 'utf8')
      const intermediate = await readFile(join(caDir, 'issuercert.pem'), 'utf8')
      return root + intermediate
    },
    async restart() {
      await stopChild(child!)
      ;({ child, port } = await launch(stateDir, log))
      env.TPM2TOOLS_TCTI = tpm.tcti
    },
    stop: () => stopChild(child!),
  }
  return tpm
}
