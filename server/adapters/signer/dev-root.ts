/**
 * Development root of trust, created on the first start with file keys (the
 * embedded default) so that `npm start` then `slipway push --key …` works with
 * nothing else set up. One root key (threshold 1), one CI release key, the online
 * key; all Ed25519 files of mode 0600 in a 0700 folder. Never for production: the
 * start-up log says so, and the README's ceremony replaces it.
 */
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { createRoot, FileKeySigner, type KeyType } from '../../../signing/index.js'
import type { KeysConfig } from '../../config.js'
import type { TrustService } from '../../domain/trust/trust-service.js'

export interface DevRoot {
  /** folder holding the dev keys and `1.root.json` (a chain folder for `slipway keys`) */
  dir: string
  rootKeyPath: string
  /** the CI key `slipway push --key` signs releases with */
  releaseKeyPath: string
  onlineKeyPath: string
}

const exists = (p: string) => stat(p).then(() => true, () => false)

/** The file key at `path`, generated (mode 0600, folder 0700) when absent. Replicas sharing the folder agree on the first writer's key. */
export async function loadOrCreateFileKey(path: string, type: KeyType = 'ed25519'): Promise<FileKeySigner> {
  if (await exists(path)) return FileKeySigner.load(path)
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const key = FileKeySigner.generate(type)
  try {
    await key.save(path)
  } catch (e) {
    // replicas sharing a keys folder start together: the first writer's key is the key
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return FileKeySigner.load(path)
    throw e
  }
  return key
}

/** Create and install the dev root when no root is installed yet; undefined when one is. */
export async function ensureDevRoot(keys: Pick<KeysConfig, 'dir'>, onlineKeyPath: string, trust: TrustService): Promise<DevRoot | undefined> {
  if ((await trust.latestVersion()) !== undefined) return undefined
  await mkdir(keys.dir, { recursive: true, mode: 0o700 })
  await chmod(keys.dir, 0o700)
  const dev: DevRoot = {
    dir: keys.dir,
    rootKeyPath: join(keys.dir, 'root.pem'),
    releaseKeyPath: join(keys.dir, 'release.pem'),
    onlineKeyPath,
  }
  const [root, release, online] = [await loadOrCreateFileKey(dev.rootKeyPath), await loadOrCreateFileKey(dev.releaseKeyPath), await loadOrCreateFileKey(dev.onlineKeyPath)]
  const bytes = await createRoot(
    {
      roles: {
        root: { keys: [root.publicKey], threshold: 1 },
        release: { keys: [release.publicKey], threshold: 1 },
        online: { keys: [online.publicKey], threshold: 1 },
      },
    },
    [root],
  )
  try {
    // identical bytes from a replica that raced us (same keys, same second) are not ours to announce
    if (!(await trust.install(bytes)).created) return undefined
  } catch (e) {
    // Another replica installed its dev root between our check and our insert
    // (ROOT_VERSION_EXISTS, or ROOT_VERSION_NOT_CONSECUTIVE when its row was already
    // visible to install). The online-key check that follows tells whether we share
    // its keys (a shared SLIPWAY_KEYS_DIR) or not.
    if ((await trust.latestVersion()) !== undefined) return undefined
    throw e
  }
  await writeFile(join(keys.dir, '1.root.json'), bytes, { mode: 0o644 }).catch(() => {}) // a copy for `slipway keys --chain`; the database is authoritative
  return dev
}
