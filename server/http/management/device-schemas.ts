/** Wire schemas (TypeBox) of device management: device views, label patches, dynamic groups, the overview. */
import { Type } from 'typebox'
import { InventorySelectorSchema } from '../inventory-schemas.js'

const Name = Type.String({ minLength: 1, maxLength: 128 })
const Tag = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:/-]+$' })
const Tags = Type.Array(Tag, { maxItems: 64 })
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])

// the device as operators see it: views/device-view.ts
export { DeviceView, InstalledView } from './views/device-view.js'

export const SelectorSchema = Type.Object(
  { hardware: Type.Optional(Name), group: Type.Optional(Name), tags: Type.Optional(Type.Array(Tag, { maxItems: 32 })), inventory: Type.Optional(InventorySelectorSchema) },
  { additionalProperties: false },
)

export const LabelPatchBody = Type.Object(
  {
    group: Type.Optional(Name),
    tags: Type.Optional(Tags),
    addTags: Type.Optional(Tags),
    removeTags: Type.Optional(Tags),
    reason: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
)

export const BulkBody = Type.Object(
  {
    selector: Type.Object(
      {
        ids: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 10000 })),
        hardware: Type.Optional(Name),
        group: Type.Optional(Name),
        tags: Type.Optional(Type.Array(Tag, { maxItems: 32 })),
        savedGroup: Type.Optional(Name),
      },
      { additionalProperties: false },
    ),
    set: Type.Object(
      { group: Type.Optional(Name), tags: Type.Optional(Tags), addTags: Type.Optional(Tags), removeTags: Type.Optional(Tags) },
      { additionalProperties: false },
    ),
    reason: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
)

export const BulkReply = Type.Object({ matched: Type.Integer(), changed: Type.Integer() })

export const GroupBody = Type.Object(
  { selector: SelectorSchema, description: Type.Optional(Type.String({ maxLength: 1000 })), reason: Type.Optional(Type.String({ maxLength: 1000 })) },
  { additionalProperties: false },
)

export const GroupView = Type.Object({
  name: Type.String(),
  selector: Type.Object({ hardware: Type.Optional(Type.String()), group: Type.Optional(Type.String()), tags: Type.Optional(Type.Array(Type.String())), inventory: Type.Optional(InventorySelectorSchema) }),
  description: Nullable(Type.String()),
  createdBy: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  devices: Type.Optional(Type.Integer({ description: 'devices matching now' })),
})

const Breakdown = Type.Array(Type.Object({ key: Type.String(), devices: Type.Integer() }))

export const OverviewView = Type.Object({
  total: Type.Integer(),
  byState: Breakdown,
  byHardware: Breakdown,
  byGroup: Breakdown,
  byVersion: Breakdown,
  notSeen: Type.Integer({ description: 'devices without a call since notSeenSince (or never)' }),
  notSeenSince: Type.String(),
  quarantined: Type.Integer({ description: 'devices in quarantine' }),
  rollouts: Type.Object({ running: Type.Integer(), paused: Type.Integer() }),
})

const Step = Type.Object({
  state: Type.String(),
  at: Type.String(),
  reason: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
})

export const ReportsView = Type.Object({
  reports: Type.Array(
    Type.Object({ id: Type.String(), seq: Type.Integer(), kind: Type.String(), rolloutId: Nullable(Type.String()), body: Type.Unknown(), at: Type.String() }),
  ),
  progress: Type.Union([
    Type.Object({ rolloutId: Type.String(), release: Type.String(), state: Type.String(), steps: Type.Array(Step) }),
    Type.Null(),
  ]),
})
