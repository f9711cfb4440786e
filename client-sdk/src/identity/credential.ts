/**
 * The device identity on disk (DEVICE-API.md "Identity"): the device id and the
 * certificate the device CA issued for the device key (the key itself is a separate
 * file, or inside a TPM). Old enrollments hold a bearer `credential` instead
 * (SLIPWAY_DEVICE_BEARER_COMPAT). Written atomically with mode 0600 and refused on load
 * when others can read it (an ssh-style check).
 */
import { stat } from 'node:fs/promises'
import { AgentError } from '../errors.js'
import { readJson, writeJsonDurable } from '../journal/atomic-file.js'

export interface DeviceCredential {
  deviceId: string
  /** `sld_…` bearer secret of an old enrollment (no certificate) */
  credential?: string
  /** PEM device certificate for the device key */
  certificate?: string
  /** its serial: the keyid of request signatures */
  serial?: string
  notAfter?: string
  /** active, or pending: a re-enrollment claim awaiting an operator approval */
  state?: 'active' | 'pending'
  caCertificate?: string
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
  if (!c || typeof c.deviceId !== 'string' || (typeof c.credential !== 'string' && typeof c.serial !== 'string'))
    throw new AgentError('CONFIG_INVALID', `credential ${path} lacks deviceId, or a certificate serial (or old credential)`, { path })
  return c
}
