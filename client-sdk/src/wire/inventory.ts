/**
 * The device inventory (DEVICE-API.md "Inventory", issue 12 §3): PUT /v1/device/inventory
 * at boot and when its digest changes (`inventory-digest.ts`).
 */
import { Bytes, Name, Sha256 } from './common.js'
import type { FromSchema, Received } from './schema.js'

const Text = (maxLength: number) => ({ type: 'string', maxLength }) as const

export const InventoryPackageSchema = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 256 }, version: { type: 'string', minLength: 1, maxLength: 256 } },
  required: ['name', 'version'],
  additionalProperties: false,
} as const
export type InventoryPackage = FromSchema<typeof InventoryPackageSchema>

export const InventoryReportSchema = {
  type: 'object',
  properties: {
    os: {
      type: 'object',
      properties: { id: Text(64), versionId: Text(64), prettyName: Text(256) },
      additionalProperties: false,
      description: 'from /etc/os-release',
    },
    kernel: { type: 'string', minLength: 1, maxLength: 128, description: '`uname -r`' },
    agentVersion: { type: 'string', minLength: 1, maxLength: 64 },
    packages: {
      type: 'object',
      properties: {
        digest: { ...Sha256, description: 'sha256 of the sorted `name\\tversion\\n` lines of dpkg-query' },
        count: { type: 'integer', minimum: 0, maximum: 1_000_000 },
        list: { type: 'array', items: InventoryPackageSchema, maxItems: 100_000, description: 'only when the server asked for it (wantPackages)' },
      },
      required: ['digest', 'count'],
      additionalProperties: false,
    },
    models: {
      type: 'array',
      items: { type: 'object', properties: { name: Name, version: Name, sha256: Sha256 }, required: ['name', 'version', 'sha256'], additionalProperties: false },
      maxItems: 64,
      default: [],
    },
    storage: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, freeBytes: Bytes, totalBytes: Bytes },
        required: ['name', 'freeBytes'],
        additionalProperties: false,
      },
      maxItems: 32,
      default: [],
      description: 'free space per slot and on the data partition, bytes',
    },
    bootloader: { type: 'string', minLength: 1, maxLength: 32 },
    tpm: { type: 'boolean' },
    digest: { ...Sha256, description: "the agent's own digest (its change detection; the server computes its own)" },
    at: Text(40),
  },
  required: ['agentVersion'],
  additionalProperties: false,
} as const
/** As the server holds it (models and storage filled in); the agent always sends both. */
export type InventoryReport = Received<typeof InventoryReportSchema>

export const InventoryReplySchema = {
  type: 'object',
  properties: {
    changed: { type: 'boolean', description: 'the facts differ from the last report (a history row was kept)' },
    wantPackages: { type: 'boolean', description: 'send packages.list with the next report: the server lacks the list of this digest' },
  },
  required: ['changed', 'wantPackages'],
} as const
export type InventoryReply = FromSchema<typeof InventoryReplySchema>
