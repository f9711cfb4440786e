/**
 * Names the CLI shows in place of ids: NAME@VERSION for a release id, and a token's
 * label for `token:<id>` in createdBy fields. Both read the API as the caller; a caller
 * that may not list tokens (only admins may) sees ids.
 */
import { ApiError, apiRequest, type CliEnv } from './http-client.js'
import { UsageError } from './args.js'

export interface ReleaseRow {
  id: string
  name: string
  version: string
  kind: string
  hardware: string[]
  sha256: string
  length: number
  securityVersion: number
  provenance: Record<string, string | undefined>
  metadata: { signed?: unknown; signatures?: Array<{ keyid: string }> } | null
  createdBy: string
  createdAt: string
}

/** Every release of `name` (the list is paged by id). */
export async function releasesNamed(env: CliEnv, name?: string): Promise<ReleaseRow[]> {
  const out: ReleaseRow[] = []
  for (let after: string | undefined; ; ) {
    const q = new URLSearchParams({ limit: '500', ...(name ? { name } : {}), ...(after ? { after } : {}) })
    const page = ((await apiRequest(env, 'GET', `/v1/releases?${q}`)).body as { releases: ReleaseRow[] }).releases
    out.push(...page)
    if (page.length < 500) return out
    after = page.at(-1)!.id
  }
}

/** NAME@VERSION → the release, or RELEASE_NOT_FOUND. */
export async function releaseByRef(env: CliEnv, ref: string, usage: string): Promise<ReleaseRow> {
  const at = ref.lastIndexOf('@')
  if (at <= 0 || at === ref.length - 1) throw new UsageError(`expected NAME@VERSION, got "${ref}"\n\n${usage}`)
  const [name, version] = [ref.slice(0, at), ref.slice(at + 1)]
  const found = (await releasesNamed(env, name)).find((r) => r.version === version)
  if (!found) throw new ApiError(404, 'RELEASE_NOT_FOUND', `no release ${name}@${version}`)
  return found
}

/** `token:<id>` → `token "<label>" (<role>)` where the caller may list tokens; other actors as they are. */
export async function actorNames(env: CliEnv): Promise<(actor: string) => string> {
  let labels = new Map<string, string>()
  try {
    const { body } = await apiRequest(env, 'GET', '/v1/tokens')
    labels = new Map((body as { tokens: Array<{ id: string; label: string; role: string }> }).tokens.map((t) => [t.id, `token "${t.label}" (${t.role})`]))
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 403)) throw e
  }
  return (actor) => (actor.startsWith('token:') ? (labels.get(actor.slice(6)) ?? actor) : (labels.get(actor) ?? actor))
}
