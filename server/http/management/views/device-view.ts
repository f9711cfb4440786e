/**
 * What the management API shows of a device (GET /v1/devices, /v1/devices/:id, explain).
 * Declared closed: the response serializer drops every field not named here, so what
 * the repositories add (the bearer credential's hash) never reaches an answer.
 */
import { Type, type Static, type TSchema } from 'typebox'
import { INSTALL_MODES, InventoryReportSchema, type Received } from '../../../../client-sdk/src/wire/index.js'

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const ReleaseRef = Type.Object({ name: Type.String(), version: Type.String() })

export const InstalledView = Type.Object({
  name: Type.String(),
  version: Type.String(),
  sha256: Type.String(),
  securityVersion: Type.Integer(),
  installMode: Type.Optional(Type.Enum(INSTALL_MODES, { description: 'how the device got it, as its succeeded event said' })),
})

/** The selector facts of the device's latest inventory report. */
export const InventoryFactsView = Type.Object({
  os: Type.Optional(Type.String({ description: 'ID-VERSION_ID of os-release' })),
  kernel: Type.Optional(Type.String()),
  agentVersion: Type.Optional(Type.String()),
  bootloader: Type.Optional(Type.String()),
  tpm: Type.Optional(Type.Boolean()),
  models: Type.Array(ReleaseRef),
})

const deviceFields = {
  id: Type.String(),
  hardwareId: Type.String(),
  hardware: Type.String(),
  group: Type.String(),
  tags: Type.Array(Type.String()),
  lastSeq: Type.Integer(),
  lastState: Nullable(Type.String()),
  lastReportAt: Nullable(Type.String()),
  lastSeenAt: Nullable(Type.String({ description: 'last poll or report; polls move it at most once a minute' })),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  installed: Type.Array(InstalledView),
  quarantinedAt: Type.Optional(Nullable(Type.String({ description: 'set while quarantined' }))),
  quarantineReason: Type.Optional(Nullable(Type.String())),
  decommissionedAt: Type.Optional(Nullable(Type.String({ description: 'set once decommissioned: identity gone, history kept' }))),
  keyTpmResident: Type.Optional(Type.Boolean({ description: 'the key of its active certificate was proven TPM-resident' })),
}

export const DeviceView = Type.Object({ ...deviceFields, inventory: Type.Optional(InventoryFactsView) })
export type DeviceView = Static<typeof DeviceView>

export const DeviceList = Type.Object({ devices: Type.Array(DeviceView), total: Type.Integer({ description: 'devices matching the filters, all pages' }) })

export const MemberView = Type.Object({
  rolloutId: Type.String(),
  deviceId: Type.String(),
  phase: Type.Integer(),
  previous: Nullable(InstalledView),
  state: Type.String({ description: "'assigned' until the first report, then the newest reported state" }),
  stateSeq: Type.Integer(),
  reason: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  healthOk: Nullable(Type.Boolean()),
  metrics: Nullable(Type.Record(Type.String(), Type.Number())),
  reverted: Type.Boolean(),
  assignedAt: Type.String(),
  reportedAt: Nullable(Type.String()),
  withdrawnAt: Type.Optional(Nullable(Type.String())),
})
export type MemberView = Static<typeof MemberView>

export const DownloadProgressView = Type.Object({ name: Type.String(), version: Type.String(), bytes: Type.Integer(), total: Type.Integer(), at: Type.String() })
export type DownloadProgressView = Static<typeof DownloadProgressView>

export const SecurityEventView = Type.Object({
  id: Type.String(),
  seq: Type.Integer(),
  kind: Type.String(),
  code: Type.String(),
  message: Type.String(),
  claimed: Type.Optional(Type.Object({ rolloutId: Type.Optional(Type.String()), release: Type.Optional(ReleaseRef), counter: Type.Optional(Type.Integer()) })),
  integrity: Type.Optional(Type.Unknown()),
  at: Type.String(),
  receivedAt: Type.String(),
})
export type SecurityEventView = Static<typeof SecurityEventView>

/**
 * The latest inventory report (without the package list) and its history of changes:
 * the device contract's report schema with what the server adds (plain JSON Schema, so
 * the report's fields keep their one definition).
 */
export const InventoryView = {
  type: 'object',
  properties: {
    ...InventoryReportSchema.properties,
    digest: { type: 'string', description: "the server's digest of the facts" },
    packagesListStored: { type: 'boolean', description: 'the server holds the package list of this digest' },
    reportedAt: { type: 'string' },
    changedAt: { type: 'string' },
    history: { type: 'array', items: { type: 'object', properties: { digest: { type: 'string' }, changedAt: { type: 'string' } }, required: ['digest', 'changedAt'] } },
  },
  required: ['agentVersion', 'models', 'storage', 'digest', 'packagesListStored', 'reportedAt', 'changedAt', 'history'],
} as const
export type InventoryView = Received<typeof InventoryView>

export const IntegrityFlagView = Type.Object({
  state: Type.Union([Type.Literal('drift'), Type.Literal('timeout')]),
  firstAt: Type.String(),
  lastAt: Type.String(),
  reports: Type.Integer(),
  releaseKnown: Type.Boolean({ description: 'false when a report named a release the server does not know (or with another sha256)' }),
  lastReport: Type.Unknown(),
})

/** GET /v1/devices/:id: the device with its rollouts, download, security events, inventory and integrity flags. */
export const DeviceDetailView = Type.Object({
  ...deviceFields,
  rollouts: Type.Array(MemberView),
  progress: Type.Optional(DownloadProgressView),
  securityEvents: Type.Array(SecurityEventView),
  inventory: Nullable(InventoryView),
  integrity: Type.Array(IntegrityFlagView),
})
/** the inventory typed by the device contract's own type (TypeBox does not read the plain schema's optional fields) */
export type DeviceDetailView = Omit<Static<typeof DeviceDetailView>, 'inventory'> & { inventory: InventoryView | null }

export const ExplanationView = Type.Object({
  deviceId: Type.String(),
  offered: Nullable(Type.Object({ rolloutId: Type.String(), release: Type.String(), action: Type.Union([Type.Literal('install'), Type.Literal('rollback')]) })),
  summary: Type.String(),
  reasons: Type.Array(Type.String()),
})
export type ExplanationView = Static<typeof ExplanationView>
