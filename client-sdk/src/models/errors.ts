/** Errors of the model store; `code` is stable and reported to the server. */
import { CodedError } from '../coded-error.js'
export type ModelErrorCode =
  /** the installed bytes do not hash to (or are not as long as) the signed release says */
  | 'MODEL_HASH_MISMATCH'
  /** activate/rollback to a slot holding no complete, verified model */
  | 'MODEL_NOT_INSTALLED'
  /** install into the slot `current` points at: the running app reads it */
  | 'MODEL_SLOT_IN_USE'
  /** rollback with no previous model kept */
  | 'MODEL_NO_PREVIOUS'
  /** the models folder holds something the store did not write (a `current` that is no slot link) */
  | 'MODEL_STORE_INVALID'

export class ModelError extends CodedError<ModelErrorCode> {}

export const isModelError = (e: unknown): e is ModelError => e instanceof ModelError
