/**
 * The release flags `slipway push` and `slipway release sign` share, and the
 * release metadata they describe. Both read them the same way so that what CI signs
 * is exactly what it pushes.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { Release } from '../../signing/index.js'
import { required, UsageError } from './args.js'

export const RELEASE_OPTIONS = {
  name: { type: 'string' },
  version: { type: 'string' },
  kind: { type: 'string' },
  hardware: { type: 'string', multiple: true },
  'security-version': { type: 'string', default: '0' },
  'source-revision': { type: 'string' },
  builder: { type: 'string' },
  'sbom-digest': { type: 'string' },
  license: { type: 'string' },
} as const

export const RELEASE_USAGE = `--name NAME --version SEMVER --kind os-image|model --hardware HW[,HW...]
                    [--security-version N] [--source-revision REV] [--builder ID] [--sbom-digest DIGEST]
                    [--license SPDX]`

type Values = { [K in keyof typeof RELEASE_OPTIONS]?: (typeof RELEASE_OPTIONS)[K] extends { multiple: true } ? string[] : string }

/** The flags, checked before a byte is hashed or sent. */
export function releaseFlags(values: Values, usage: string) {
  const name = required(values.name, '--name', usage)
  const version = required(values.version, '--version', usage)
  const kind = required(values.kind, '--kind', usage)
  const securityVersion = Number(values['security-version'] ?? '0')
  if (!Number.isInteger(securityVersion) || securityVersion < 0) throw new UsageError('--security-version must be a whole number')
  const hardware = (values.hardware ?? []).flatMap((h) => h.split(',')).map((h) => h.trim()).filter(Boolean)
  if (hardware.length === 0) throw new UsageError(`--hardware is required\n\n${usage}`)
  const provenance = {
    ...(values['source-revision'] ? { sourceRevision: values['source-revision'] } : {}),
    ...(values.builder ? { builder: values.builder } : {}),
    ...(values['sbom-digest'] ? { sbomDigest: values['sbom-digest'] } : {}),
    ...(values.license ? { license: values.license } : {}),
  } as { sourceRevision?: string; builder?: string; sbomDigest?: string; license?: string }
  return { name, version, kind, hardware, securityVersion, provenance }
}

/**
 * Release metadata for an artifact. Signed provenance needs all three fields;
 * the ones CI did not give are recorded as "unspecified" rather than invented.
 */
export function releaseOf(f: ReturnType<typeof releaseFlags>, artifact: { sha256: string; length: number }): Release {
  if (f.kind !== 'os-image' && f.kind !== 'model') throw new UsageError('--kind must be os-image or model')
  return {
    name: f.name,
    version: f.version,
    kind: f.kind,
    hardware: f.hardware,
    sha256: artifact.sha256,
    length: artifact.length,
    securityVersion: f.securityVersion,
    provenance: {
      sourceRevision: f.provenance.sourceRevision ?? 'unspecified',
      builder: f.provenance.builder ?? 'unspecified',
      sbomDigest: f.provenance.sbomDigest ?? 'unspecified',
      ...(f.provenance.license ? { license: f.provenance.license } : {}),
    },
  }
}

export async function artifactFile(path: string): Promise<{ size: number }> {
  const info = await stat(path).catch(() => undefined)
  if (!info?.isFile()) throw new UsageError(`${path} is not a readable file`)
  return { size: info.size }
}

export async function sha256File(path: string, onProgress?: (hashed: number) => void): Promise<string> {
  const h = createHash('sha256')
  let hashed = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer)
    hashed += (chunk as Buffer).length
    onProgress?.(hashed)
  }
  return h.digest('hex')
}
