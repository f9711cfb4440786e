/**
 * The `current` / `previous` links of the model store. A link is replaced by creating
 * a temp symlink and renaming it over the old one: rename(2) is atomic, so a reader
 * resolving `current/<model>` finds the old slot or the new one, never no link.
 */
import { randomBytes } from 'node:crypto'
import { readlink, rename, rm, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { fsyncDir } from '../slots/atomic-write.js'
import { isSlotName, type SlotName } from '../slots/port.js'
import { ModelError } from './errors.js'

export type LinkName = 'current' | 'previous'

/** The slot a link points at; undefined when there is no link. */
export async function readSlotLink(dir: string, name: LinkName): Promise<SlotName | undefined> {
  let target: string
  try {
    target = await readlink(join(dir, name))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ModelError('MODEL_STORE_INVALID', `${join(dir, name)} is not a symlink`, { dir, name }, { cause: e })
  }
  if (!isSlotName(target)) throw new ModelError('MODEL_STORE_INVALID', `${join(dir, name)} points at ${target}, not a or b`, { dir, name, target })
  return target
}

/** Point `name` at `slot` (relative link, so the store can move), atomically and durably. */
export async function writeSlotLink(dir: string, name: LinkName, slot: SlotName): Promise<void> {
  const tmp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`)
  await symlink(slot, tmp)
  try {
    await rename(tmp, join(dir, name))
  } catch (e) {
    await rm(tmp, { force: true })
    throw e
  }
  await fsyncDir(dir)
}

export async function removeSlotLink(dir: string, name: LinkName): Promise<void> {
  await rm(join(dir, name), { force: true })
  await fsyncDir(dir)
}
