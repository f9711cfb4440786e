/**
 * The poll (DEVICE-API.md "Polling"): GET /v1/device/update answers 204 (nothing to
 * do), 304 (the assignment the device's ETag names still holds) or 200 with an offer.
 * Each signed document travels as its envelope; the agent checks the signatures
 * (signing/verify), this schema only the shape around them.
 */
import { Bytes } from './common.js'
import type { FromSchema } from './schema.js'

/** Every poll answer carries it: seconds until the next poll. */
export const POLL_INTERVAL_HEADER = 'slipway-poll-interval'
/** `pending` on the poll of a re-enrollment claim awaiting approval */
export const DEVICE_STATE_HEADER = 'slipway-device-state'

/** A signed envelope (TUF 1.0 §4.2): its contents are the signing code's to check. */
export const SignedEnvelopeSchema = {
  type: 'object',
  additionalProperties: true,
  description: '{ signed, signatures }: checked by signing/verify, not by this schema',
} as const

/** Where to download a payload, and its length in bytes. */
export const BlobLinkSchema = {
  type: 'object',
  properties: { url: { type: 'string', description: 'GET /v1/blobs/{sha256}: relative to the server' }, length: Bytes },
  required: ['url', 'length'],
} as const
export type BlobLink = FromSchema<typeof BlobLinkSchema>

export const OFFER_ACTIONS = ['install', 'rollback'] as const

export const PollOfferSchema = {
  type: 'object',
  properties: {
    assignment: { ...SignedEnvelopeSchema, description: 'the assignment, signed by the online key (counter, expiry, release, delta)' },
    release: { ...SignedEnvelopeSchema, description: 'the release metadata, signed in CI' },
    delta: { anyOf: [{ ...SignedEnvelopeSchema, description: 'the delta metadata, signed by the online key' }, { type: 'null' }] },
    artifact: BlobLinkSchema,
    patch: { anyOf: [BlobLinkSchema, { type: 'null' }] },
    action: { type: 'string', enum: OFFER_ACTIONS, description: 'absent: install' },
    pollIntervalSeconds: { type: 'number', exclusiveMinimum: 0 },
  },
  required: ['assignment', 'release', 'artifact'],
} as const
export type PollOffer = FromSchema<typeof PollOfferSchema>
