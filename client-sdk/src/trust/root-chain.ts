/**
 * The device's root of trust (TUF 1.0 §5.3): the root pinned at provisioning,
 * then every newer root in order. Roots already verified are cached in
 * `rootsDir/<N>.json` and re-walked on every start (cheap, and a tampered cache
 * fails the walk); newer ones come from `GET /v1/trust/root/{N}.json` until 404.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TrustedRoot, type VerifyOptions } from '../../../signing/verify/index.js'
import { AgentError } from '../errors.js'
import { writeFileDurable } from '../journal/atomic-file.js'
import type { DeviceApi } from '../net/device-api.js'

/** Most root versions fetched in one update of the chain (TUF §5.3.3 sets a cap too). */
export const MAX_ROOT_STEPS = 32

export interface RootChainOptions {
  pinnedFile: string
  rootsDir: string
  verify?: VerifyOptions
}

export async function loadTrustedRoot(o: RootChainOptions, api?: DeviceApi): Promise<TrustedRoot> {
  let pinned: Buffer
  try {
    pinned = await readFile(o.pinnedFile)
  } catch (e) {
    throw new AgentError('CONFIG_INVALID', `trustedRootFile ${o.pinnedFile}: ${(e as Error).message}`, { path: o.pinnedFile }, { cause: e })
  }
  const root = TrustedRoot.fromPinned(pinned, o.verify)
  await mkdir(o.rootsDir, { recursive: true })
  for (;;) {
    const cached = await readFile(join(o.rootsDir, `${root.version + 1}.json`)).catch(() => undefined)
    if (!cached) break
    root.update(cached)
  }
  if (api) {
    for (let i = 0; i < MAX_ROOT_STEPS; i++) {
      const next = await api.root(root.version + 1)
      if (!next) break
      root.update(next) // throws TrustError and keeps trusting the current version
      await writeFileDurable(join(o.rootsDir, `${root.version}.json`), next)
    }
  }
  root.checkFresh()
  return root
}
