/** Wire schemas (TypeBox) of the inventory report and integrity details (issue 12 §3-4). */
import { Type } from 'typebox'

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' })
const Name = Type.String({ minLength: 1, maxLength: 128 })
const Text = (maxLength: number) => Type.String({ maxLength })
const Bytes = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })

export const InventoryBody = Type.Object(
  {
    os: Type.Optional(Type.Object({ id: Type.Optional(Text(64)), versionId: Type.Optional(Text(64)), prettyName: Type.Optional(Text(256)) }, { additionalProperties: false })),
    kernel: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    agentVersion: Type.String({ minLength: 1, maxLength: 64 }),
    packages: Type.Optional(
      Type.Object(
        {
          digest: Sha256,
          count: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
          list: Type.Optional(
            Type.Array(Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }), version: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }), {
              maxItems: 100_000,
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    models: Type.Array(Type.Object({ name: Name, version: Name, sha256: Sha256 }, { additionalProperties: false }), { maxItems: 64, default: [] }),
    storage: Type.Array(Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), freeBytes: Bytes, totalBytes: Type.Optional(Bytes) }, { additionalProperties: false }), {
      maxItems: 32,
      default: [],
    }),
    bootloader: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    tpm: Type.Optional(Type.Boolean()),
    digest: Type.Optional(Sha256),
    at: Type.Optional(Text(40)),
  },
  { additionalProperties: false },
)

export const InventoryReply = Type.Object({
  changed: Type.Boolean({ description: 'the facts differ from the last report (a history row was kept)' }),
  wantPackages: Type.Boolean({ description: 'send packages.list with the next report: the server lacks the list of this digest' }),
})

export const IntegrityDetails = Type.Object(
  {
    target: Type.Union([Type.Literal('os'), Type.Literal('model')]),
    release: Type.Object({ name: Name, version: Name }, { additionalProperties: false }),
    sha256: Sha256,
    actual: Type.Optional(Sha256),
    firstDifferingMiB: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 2 ** 40 }), Type.Null()])),
    checkedBytes: Bytes,
    elapsedMs: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { additionalProperties: false },
)

/** Exact inventory filters of GET /v1/devices (`?inventory.kernel=…`). */
export const InventoryQuery = {
  'inventory.os': Type.Optional(Type.String({ maxLength: 128, description: 'ID-VERSION_ID of os-release, e.g. debian-12' })),
  'inventory.kernel': Type.Optional(Type.String({ maxLength: 128 })),
  'inventory.agentVersion': Type.Optional(Type.String({ maxLength: 64 })),
  'inventory.bootloader': Type.Optional(Type.String({ maxLength: 32 })),
  'inventory.tpm': Type.Optional(Type.Boolean()),
  'inventory.model': Type.Optional(Type.String({ maxLength: 260, description: 'a live model: name or name@version' })),
  package: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'devices with this Debian package installed' })),
  versionLt: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'with package: installed version < this (Debian ordering)' })),
  versionGte: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  versionEq: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  integrity: Type.Optional(Type.Union([Type.Literal('drift'), Type.Literal('timeout')], { description: 'devices flagged by an integrity check' })),
}

export const InventorySelectorSchema = Type.Object(
  {
    os: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    kernel: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    agentVersion: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    bootloader: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    tpm: Type.Optional(Type.Boolean()),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 260 })),
  },
  { additionalProperties: false, description: 'exact matches on the device inventory (issue 12 §3)' },
)
