/** The audit log as GET /v1/audit shows it: every field the hash chain covers, and the chain itself. */
import { Type, type Static } from 'typebox'

export const AuditEntry = Type.Object({
  seq: Type.Integer(),
  at: Type.String(),
  actor: Type.String({ description: '`token:<id>`, `device:<id>` or `system:<what>`' }),
  action: Type.String(),
  subject: Type.String({ description: 'e.g. `rollout:<id>`' }),
  reason: Type.Union([Type.String(), Type.Null()]),
  before: Type.Unknown(),
  after: Type.Unknown(),
  prevHash: Type.String(),
  hash: Type.String(),
})
export type AuditEntry = Static<typeof AuditEntry>

export const AuditPage = Type.Object({ entries: Type.Array(AuditEntry) })
