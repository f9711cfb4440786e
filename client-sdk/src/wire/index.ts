/**
 * The device contract (DEVICE-API.md) in one place: JSON Schema constants that the
 * server's routes declare and the agent checks answers against, and the types derived
 * from them. No dependencies: the agent bundles it, the server imports it.
 */
export type { FromSchema, JsonSchema, Received } from './schema.js'
export { conforms, problemOf } from './validate.js'
export { DEVICE_STATES, DeviceStateSchema, INSTALL_MODES, InstallModeSchema, type DeviceState, type InstallMode } from './states.js'
export {
  AttestationChallengeRequestSchema,
  AttestationChallengeSchema,
  CertificateGrantSchema,
  EnrollReplySchema,
  EnrollRequestSchema,
  InstalledSchema,
  RenewRequestSchema,
  type AttestationChallenge,
  type AttestationChallengeRequest,
  type CertificateGrant,
  type EnrollReply,
  type EnrollRequest,
  type Installed,
  type RenewRequest,
} from './enrollment.js'
export { BlobLinkSchema, DEVICE_STATE_HEADER, OFFER_ACTIONS, POLL_INTERVAL_HEADER, PollOfferSchema, SignedEnvelopeSchema, type BlobLink, type PollOffer } from './offer.js'
export {
  DeviceEventSchema,
  EventsReplySchema,
  EventsRequestSchema,
  HealthReplySchema,
  HealthReportSchema,
  IntegrityFindingSchema,
  SecurityEventSchema,
  SecurityReplySchema,
  type DeviceEvent,
  type EventsReply,
  type HealthReply,
  type HealthReport,
  type IntegrityFinding,
  type ReceivedHealthReport,
  type SecurityEvent,
} from './reports.js'
export { inventoryDigest, packagesDigest } from './inventory-digest.js'
export { InventoryPackageSchema, InventoryReplySchema, InventoryReportSchema, type InventoryPackage, type InventoryReply, type InventoryReport } from './inventory.js'
