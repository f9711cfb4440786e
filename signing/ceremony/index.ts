/** Key ceremony library: what `slipway keys …` and `slipway release sign|verify` call. */
export { createRoot, proposeRootUpdate, signRoot, publishRoot, rotateRoot, ROOT_LIFETIME_SECONDS, type CreateRootSpec, type RootChange } from './root-ceremony.js'
export { addReleaseKey, revokeReleaseKey, changeThresholds, rotateOnlineKey, changeRootKeys } from './key-changes.js'
export { signRelease, verifyReleaseOffline, RELEASE_LIFETIME_SECONDS, type OfflineVerification } from './release-ceremony.js'
