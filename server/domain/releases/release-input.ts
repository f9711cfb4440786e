/**
 * Semantic checks on release metadata a CI pushes, beyond its JSON shape: names that
 * are safe as path segments and object keys, and versions that are SemVer 2.0.0.
 */
import { invalid } from '../errors.js'
import type { Release } from '../model.js'

/** What a CI pushes: the release's own fields, plus the upload that holds its bytes. */
export type ReleaseInput = Pick<Release, 'name' | 'version' | 'kind' | 'hardware' | 'sha256' | 'length' | 'securityVersion' | 'provenance'> & {
  /** id of a finished upload */
  uploadId: string
  /** CI-signed metadata envelope, verified against the current root before anything is stored */
  metadata?: unknown
}

// https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/

// lowercase, starts with a letter or digit, no "/", no "..", no control characters
const NAME = /^[a-z0-9](?:[a-z0-9_-]|\.(?!\.)){0,127}$/

export function checkReleaseName(name: string): void {
  if (!NAME.test(name))
    throw invalid('RELEASE_NAME_INVALID', 'name must be 1-128 of a-z 0-9 . _ - , start with a letter or digit, and hold no "/" or ".."', { name })
}

export function checkReleaseInput(input: ReleaseInput): void {
  checkReleaseName(input.name)
  if (input.version.length > 128 || !SEMVER.test(input.version))
    throw invalid('RELEASE_VERSION_INVALID', 'version must be a SemVer 2.0.0 string such as 1.4.0', { version: input.version })
  for (const hw of input.hardware)
    if (!NAME.test(hw)) throw invalid('HARDWARE_NAME_INVALID', 'hardware names follow the same rules as release names', { hardware: hw })
  if (new Set(input.hardware).size !== input.hardware.length)
    throw invalid('HARDWARE_DUPLICATE', 'hardware names must be unique', { hardware: input.hardware })
}
