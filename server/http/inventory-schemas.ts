/** Wire schemas (TypeBox) of inventory queries and selectors (issue 12 §3); the report itself is in client-sdk/src/wire. */
import { Type } from 'typebox'

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
