/**
 * A private SoftHSM2 for one test file: its own SOFTHSM2_CONF and token directory
 * in a temp dir, tokens initialised with softhsm2-util. Fails loudly (never skips)
 * when SoftHSM2 is not installed.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

const MODULE_CANDIDATES = [process.env.SOFTHSM2_MODULE, '/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so']

export const SO_PIN = '1234-so'
export const USER_PIN = '5678-user-pin'

export interface SoftHsm {
  modulePath: string
  dir: string
  cleanup(): Promise<void>
}

/** Set up SoftHSM with the given token labels. Call before any PKCS#11 module is loaded in this process. */
export async function softhsm(tokens: string[]): Promise<SoftHsm> {
  const modulePath = MODULE_CANDIDATES.find((p) => p && existsSync(p))
  if (!modulePath) throw new Error('SoftHSM2 is not installed (apt-get install softhsm2): PKCS#11 tests cannot run')
  const dir = await mkdtemp(join(tmpdir(), 'slipway-softhsm-'))
  await mkdir(join(dir, 'tokens'))
  const conf = join(dir, 'softhsm2.conf')
  await writeFile(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`)
  process.env.SOFTHSM2_CONF = conf
  for (const label of tokens) {
    try {
      await run('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', SO_PIN, '--pin', USER_PIN], { env: process.env })
    } catch (e) {
      throw new Error(`softhsm2-util --init-token failed (is softhsm2 installed?): ${(e as Error).message}`)
    }
  }
  return { modulePath, dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}
