/**
 * Root metadata (TUF 1.0 §4.3): the keys and thresholds of every role, signed by a
 * threshold of root keys. Our roles are `root`, `release` (CI) and `online`
 * (server). So that standard TUF tooling can read the document, the four TUF
 * top-level roles are also written, as aliases: `targets` = `release`,
 * `snapshot` = `timestamp` = `online`. Verifiers refuse a root whose aliases
 * disagree (ROOT_INCONSISTENT), so a TUF tool and our verifier trust the same keys.
 */
import { TrustError } from '../errors.js'
import { decodeKey, type PublicKey, type TufKey } from '../keys.js'
import { checkCommon, commonFields, type SignedCommon } from './common.js'
import { fail, int, obj, strArray } from './guard.js'

export type RoleName = 'root' | 'release' | 'online'
export const ROLE_NAMES: readonly RoleName[] = ['root', 'release', 'online']
const ALIASES = { targets: 'release', snapshot: 'online', timestamp: 'online' } as const

export interface RoleKeys {
  keyids: string[]
  /** number of distinct keys whose signatures are needed, >= 1 */
  threshold: number
}

export interface RootSigned extends SignedCommon<'root'> {
  consistent_snapshot: boolean
  keys: Record<string, TufKey>
  roles: Record<RoleName | keyof typeof ALIASES, RoleKeys>
}

/** A role with its keys decoded: what threshold checks need. */
export interface Role {
  name: RoleName
  threshold: number
  keys: Map<string, PublicKey>
}

export interface RootSpec {
  version: number
  expires: string
  roles: Record<RoleName, { keys: TufKey[]; threshold: number }>
}

/** Build the `signed` part of a root (not yet signed). */
export function buildRoot(spec: RootSpec): RootSigned {
  const keys: Record<string, TufKey> = {}
  const roles = {} as RootSigned['roles']
  for (const name of ROLE_NAMES) {
    const r = spec.roles[name]
    const keyids = r.keys.map((k) => {
      const id = decodeKey(k).keyId
      keys[id] = { keytype: k.keytype, scheme: k.scheme, keyval: { public: k.keyval.public } }
      return id
    })
    if (new Set(keyids).size !== keyids.length)
      throw new TrustError('CEREMONY_INVALID', `role ${name} lists a key twice`)
    if (!Number.isSafeInteger(r.threshold) || r.threshold < 1 || r.threshold > keyids.length)
      throw new TrustError('CEREMONY_INVALID', `role ${name}: threshold ${r.threshold} with ${keyids.length} keys`)
    roles[name] = { keyids: keyids.sort(), threshold: r.threshold }
  }
  for (const [alias, of] of Object.entries(ALIASES)) roles[alias as keyof typeof ALIASES] = roles[of]
  return { ...commonFields('root', spec.version, spec.expires), consistent_snapshot: false, keys, roles }
}

function sameRole(a: RoleKeys, b: RoleKeys): boolean {
  return a.threshold === b.threshold && a.keyids.length === b.keyids.length && [...a.keyids].sort().join() === [...b.keyids].sort().join()
}

/** Check a parsed root `signed` part: shape, key ids, role consistency. */
export function parseRoot(v: unknown): RootSigned {
  const o = checkCommon(v, 'root')
  if (typeof o.consistent_snapshot !== 'boolean') fail('consistent_snapshot', 'a boolean')
  const keys = obj(o.keys, 'keys')
  for (const [id, k] of Object.entries(keys)) decodeKey(k, id)
  const roles = obj(o.roles, 'roles')
  for (const name of [...ROLE_NAMES, ...Object.keys(ALIASES)]) {
    const r = obj(roles[name] ?? fail(`roles.${name}`, 'present'), `roles.${name}`)
    const ids = strArray(r.keyids, `roles.${name}.keyids`, { min: 1 })
    const t = int(r.threshold, `roles.${name}.threshold`, 1)
    if (new Set(ids).size !== ids.length) throw new TrustError('ROOT_INCONSISTENT', `role ${name} lists a keyid twice`)
    for (const id of ids) if (!(id in keys)) throw new TrustError('ROOT_INCONSISTENT', `role ${name} names unknown keyid ${id}`)
    if (t > ids.length) throw new TrustError('ROOT_INCONSISTENT', `role ${name} threshold ${t} exceeds its ${ids.length} keys`)
  }
  const rs = roles as unknown as RootSigned['roles']
  for (const [alias, of] of Object.entries(ALIASES))
    if (!sameRole(rs[alias as keyof typeof ALIASES], rs[of]))
      throw new TrustError('ROOT_INCONSISTENT', `TUF role ${alias} differs from our role ${of}`)
  return o as unknown as RootSigned
}

/** The decoded keys and threshold of one role of a (parsed) root. */
export function roleOf(root: RootSigned, name: RoleName): Role {
  const r = root.roles[name]
  const keys = new Map<string, PublicKey>()
  for (const id of r.keyids) keys.set(id, decodeKey(root.keys[id], id))
  return { name, threshold: r.threshold, keys }
}

