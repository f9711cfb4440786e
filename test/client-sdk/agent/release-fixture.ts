/**
 * The release document the agent tests install: an OS image for rpi4 at version 2.0.0.
 * Its own file, free of the agent's index, so that tests which must set the environment
 * before the agent's modules load (failpoint-names) can still use it.
 * Not a test file: tap runs only `*.test.ts`.
 */
import type { Release } from '../../../signing/metadata/release.js'
import { sha256 } from './http-fixtures.js'

export function releaseOf(image: Buffer, over: Partial<Release> = {}): Release {
  return {
    name: 'edge-os',
    version: '2.0.0',
    kind: 'os-image',
    hardware: ['rpi4'],
    sha256: sha256(image),
    length: image.length,
    securityVersion: 1,
    provenance: { sourceRevision: 'r', builder: 'tests', sbomDigest: `sha256:${'0'.repeat(64)}` },
    ...over,
  }
}
