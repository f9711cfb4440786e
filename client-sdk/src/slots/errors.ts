/**
 * Errors of the slot adapters. The stable `code` is what the agent reports and
 * matches on; the message is for people.
 */
import { CodedError } from '../coded-error.js'
export type SlotErrorCode =
  /** the bootloader tool (fw_printenv, grub-editenv, ...) is not installed */
  | 'SLOT_TOOL_MISSING'
  /** the tool ran and failed for another reason (permissions, I/O error) */
  | 'SLOT_TOOL_FAILED'
  /** the bootloader environment / state file is missing, unreadable or fails its checksum */
  | 'SLOT_ENV_CORRUPT'
  /** the environment is readable but holds a value outside what the adapter is configured for */
  | 'SLOT_STATE_INVALID'
  /** which slot the running system booted from cannot be determined */
  | 'SLOT_BOOTED_UNKNOWN'
  /** the call does not fit the current state (e.g. markTry on the booted slot, commit of a trial not booted) */
  | 'SLOT_WRONG_STATE'
  /** inactive() while running an uncommitted trial */
  | 'SLOT_NOT_COMMITTED'
  /** a constructor option is invalid */
  | 'SLOT_BAD_CONFIG'

export class SlotError extends CodedError<SlotErrorCode> {}

export const isSlotError = (e: unknown): e is SlotError => e instanceof SlotError
