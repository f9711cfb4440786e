/**
 * The device credential on disk (DEVICE-API.md "Identity"): a bearer secret the
 * server stores only as a hash. Written atomically with mode 0600 and refused on
 * load when others can read it (an ssh-style check: a leaked credential lets
 * anyone act as this device).
 */
import { stat } from 'node:fs/promises'
import { AgentError } from '../errors.js'
import { readJson, writeJsonDurable } from '../journal/atomic-file.js'

export interface DeviceCredential {
  deviceId: string
  /** `sld_…` bearer secret */
  credential: string
  /** server it was issued by */
  server: string
  hardwareId: string
  group?: string
  enrolledAt: string
}

export async function saveCredential(path: string, c: DeviceCredential): Promise<void> {
  await writeJsonDurable(path, c, { mode: 0o600 })
}

/** The stored credential, or undefined when the device never enrolled. */
export async function loadCredential(path: string): Promise<DeviceCredential | undefined> {
  const st = await stat(path).catch(() => undefined)
  if (!st) return undefined
  if ((st.mode & 0o077) !== 0)
    throw new AgentError('CONFIG_INVALID', `credential ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`, { path })
  let c: DeviceCredential | undefined
  try {
    c = await readJson<DeviceCredential>(path)
  } catch (e) {
    throw new AgentError('CONFIG_INVALID', `credential ${path} is not JSON`, { path }, { cause: e })
  }
  if (!c || typeof c.deviceId !== 'string' || typeof c.credential !== 'string')
    throw new AgentError('CONFIG_INVALID', `credential ${path} lacks deviceId or credential`, { path })
  return c
}
