/** Vendor error recognition for both dialects, kept at the adapter boundary. */

export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code
  // PostgreSQL SQLSTATE unique_violation; better-sqlite3 extended result codes
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}
