/** Named root changes for the usual ceremonies; combine them in `proposeRootUpdate`. */
import type { TufKey } from '../keys.js'
import type { RoleName } from '../metadata/root.js'
import type { RootChange } from './root-ceremony.js'

/** Trust a new CI key for releases. */
export const addReleaseKey = (key: TufKey): RootChange => ({ add: { release: [key] } })

/** Stop trusting a CI key: releases it signs are refused (SIGNATURE_REVOKED_KEY on devices). */
export const revokeReleaseKey = (keyId: string): RootChange => ({ remove: { release: [keyId] } })

/** Change how many keys each role needs. */
export const changeThresholds = (thresholds: Partial<Record<RoleName, number>>): RootChange => ({ thresholds })

/** Replace the online key(s): assignments and deltas from the old ones are refused once devices see the new root. */
export const rotateOnlineKey = (newKey: TufKey, oldKeyIds: readonly string[]): RootChange => ({
  add: { online: [newKey] },
  remove: { online: [...oldKeyIds] },
})

/** Add or remove root keys (the new root still needs the old threshold to be accepted). */
export const changeRootKeys = (add: readonly TufKey[], removeKeyIds: readonly string[]): RootChange => ({
  add: { root: [...add] },
  remove: { root: [...removeKeyIds] },
})
