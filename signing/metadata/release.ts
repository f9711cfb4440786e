/**
 * Release metadata: one artifact, written as a TUF 1.0 targets document (§4.5)
 * with exactly one target so standard TUF tooling reads it. Our fields sit in the
 * target's `custom` object; length and sha256 are the TUF `length` and `hashes`.
 * Signed by the `release` role (CI).
 */
import { TrustError } from '../errors.js'
import { checkCommon, commonFields, type SignedCommon } from './common.js'
import { int, obj, oneOf, sha256Hex, str, strArray } from './guard.js'

export type ArtifactKind = 'os-image' | 'model'
export const ARTIFACT_KINDS: readonly ArtifactKind[] = ['os-image', 'model']

export interface Provenance {
  /** VCS revision the artifact was built from, e.g. a git commit */
  sourceRevision: string
  /** identity of the build system, e.g. a CI runner URI */
  builder: string
  /** sha256 of the SBOM document */
  sbomDigest: string
  /** licence of the artifact (SPDX expression), for models; absent when CI did not say */
  license?: string
}

/** What a release says about its artifact: the domain view of the targets document. */
export interface Release {
  name: string
  version: string
  kind: ArtifactKind
  /** hardware models the artifact runs on, e.g. `rpi4`, `rpi5` */
  hardware: string[]
  /** lowercase hex sha256 of the artifact */
  sha256: string
  /** artifact bytes */
  length: number
  /** anti-rollback counter: a device never installs a lower one */
  securityVersion: number
  provenance: Provenance
}

export interface TargetFile {
  length: number
  hashes: { sha256: string }
  custom: Omit<Release, 'sha256' | 'length'>
}

export interface ReleaseSigned extends SignedCommon<'targets'> {
  targets: Record<string, TargetFile>
}

/** The target path of a release inside its targets document. */
export const targetPath = (r: Pick<Release, 'name' | 'version'>): string => `${r.name}/${r.version}`

export function buildRelease(r: Release, opts: { version?: number; expires: string }): ReleaseSigned {
  const { sha256, length, ...custom } = r
  const target: TargetFile = { length, hashes: { sha256 }, custom }
  // Round-trip through the parser so a builder cannot produce what a verifier refuses.
  return parseRelease({ ...commonFields('targets', opts.version ?? 1, opts.expires), targets: { [targetPath(r)]: target } }).signed
}

/** Check a parsed targets document holding one release; return it and its domain view. */
export function parseRelease(v: unknown): { signed: ReleaseSigned; release: Release } {
  const o = checkCommon(v, 'targets')
  const targets = obj(o.targets, 'targets')
  const paths = Object.keys(targets)
  if (paths.length !== 1) throw new TrustError('DOC_MALFORMED', `release must have exactly one target, has ${paths.length}`)
  const path = paths[0] as string
  const t = obj(targets[path], `targets.${path}`)
  const hashes = obj(t.hashes, 'hashes')
  const c = obj(t.custom, 'custom')
  const p = obj(c.provenance, 'custom.provenance')
  const release: Release = {
    name: str(c.name, 'custom.name', 128),
    version: str(c.version, 'custom.version', 128),
    kind: oneOf(c.kind, 'custom.kind', ARTIFACT_KINDS),
    hardware: strArray(c.hardware, 'custom.hardware', { min: 1 }),
    sha256: sha256Hex(hashes.sha256, 'hashes.sha256'),
    length: int(t.length, 'length', 1),
    securityVersion: int(c.securityVersion, 'custom.securityVersion', 0),
    provenance: {
      sourceRevision: str(p.sourceRevision, 'provenance.sourceRevision'),
      builder: str(p.builder, 'provenance.builder'),
      sbomDigest: str(p.sbomDigest, 'provenance.sbomDigest', 128),
      // optional: metadata signed before it existed stays valid
      ...(p.license === undefined ? {} : { license: str(p.license, 'provenance.license', 256) }),
    },
  }
  if (path !== targetPath(release)) throw new TrustError('DOC_MALFORMED', `target path ${path} is not ${targetPath(release)}`)
  return { signed: o as unknown as ReleaseSigned, release }
}
