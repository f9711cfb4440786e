/**
 * The audit log's hash chain: each entry's hash covers the previous entry's hash and
 * the canonical JSON of its own fields, so changing, removing or reordering any entry
 * breaks every hash after it.
 */
import { createHash } from 'node:crypto'
import type { AuditEntry } from './fleet-model.js'

export const GENESIS_HASH = '0'.repeat(64)

/** JSON with object keys sorted at every level (floats allowed, unlike TUF canonical JSON). */
export function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null)
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  const o = v as Record<string, unknown>
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
    .join(',')}}`
}

export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  const body = stableJson({
    seq: e.seq,
    at: e.at,
    actor: e.actor,
    action: e.action,
    subject: e.subject,
    reason: e.reason,
    before: e.before ?? null,
    after: e.after ?? null,
  })
  return createHash('sha256').update(e.prevHash).update(body).digest('hex')
}

export interface ChainCheck {
  ok: boolean
  entries: number
  head: string
  /** first entry that does not verify */
  brokenAt?: number
  problem?: string
}

/** Verifies a contiguous run of entries starting at seq 1 (or after `from`). */
export function verifyChain(entries: AuditEntry[], from: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH }): ChainCheck {
  let prev = from
  for (const e of entries) {
    if (e.seq !== prev.seq + 1) return { ok: false, entries: entries.length, head: prev.hash, brokenAt: e.seq, problem: `entry ${prev.seq + 1} is missing (next is ${e.seq})` }
    if (e.prevHash !== prev.hash) return { ok: false, entries: entries.length, head: prev.hash, brokenAt: e.seq, problem: `entry ${e.seq} does not link to entry ${prev.seq}` }
    if (entryHash(e) !== e.hash) return { ok: false, entries: entries.length, head: prev.hash, brokenAt: e.seq, problem: `entry ${e.seq} was altered (hash mismatch)` }
    prev = { seq: e.seq, hash: e.hash }
  }
  return { ok: true, entries: entries.length, head: prev.hash }
}
