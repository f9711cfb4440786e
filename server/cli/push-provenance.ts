/** Provenance for `slipway push`: the SBOM it stores, and the provenance of metadata signed already. */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { UsageError } from './args.js'

export interface SignedEnvelope {
  signed?: { targets?: Record<string, { custom?: { provenance?: Record<string, unknown> } }> }
  signatures?: Array<{ keyid?: unknown }>
}

/** The provenance an envelope signs (its one target's), as far as it is readable; the server checks the rest. */
export function signedProvenance(m: SignedEnvelope): Record<string, string> {
  const target = Object.values(m.signed?.targets ?? {})[0]
  return Object.fromEntries(Object.entries(target?.custom?.provenance ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'))
}

/** The SBOM file and the digest it is signed under (`sha256:<hex>`); a different --sbom-digest is a mistake. */
export async function sbomFile(path: string, declared: string | undefined): Promise<{ bytes: Buffer; digest: string }> {
  const bytes = await readFile(path).catch(() => {
    throw new UsageError(`--sbom: cannot read ${path}`)
  })
  if (bytes.length === 0) throw new UsageError(`--sbom: ${path} is empty`)
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  if (declared !== undefined && declared !== digest && declared !== digest.slice(7))
    throw new UsageError(`--sbom-digest ${declared} is not the sha256 of ${path} (${digest})`)
  return { bytes, digest }
}
