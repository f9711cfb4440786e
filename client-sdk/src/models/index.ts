export { ModelStore, type ModelExpectation, type ModelManifest, type ModelSource, type ModelStoreOptions, type ModelStoreStatus } from './store.js'
export { runSmokeTest, type SmokeTestFailure, type SmokeTestOptions, type SmokeTestResult } from './smoke-test.js'
export { ModelError, isModelError, type ModelErrorCode } from './errors.js'
export { readSlotLink, writeSlotLink, type LinkName } from './links.js'
