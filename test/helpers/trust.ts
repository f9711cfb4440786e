/**
 * Really signed release metadata for tests: signed with the development release
 * key a TestServer created in its data folder on first start (the key its root v1
 * trusts), or with any other signers to test refusals.
 */
import { join } from 'node:path'
import { FileKeySigner, signRelease, type Release, type Signer } from '../../signing/index.js'
import type { TestServer } from './server.js'

/** The CI release key of the server's development root. */
export function devReleaseKey(srv: Pick<TestServer, 'config'>): Promise<FileKeySigner> {
  return FileKeySigner.load(devReleaseKeyPath(srv))
}

export const devReleaseKeyPath = (srv: Pick<TestServer, 'config'>): string => join(srv.config.keys.dir, 'release.pem')

/** The fields a push sends; provenance may be partial (the signed one is completed with fixed test values). */
export interface PushFields {
  name: string
  version: string
  kind: string
  hardware: string[]
  sha256: string
  length: number
  securityVersion: number
  provenance?: { sourceRevision?: string; builder?: string; sbomDigest?: string }
}

export function signedFields(f: PushFields): Release {
  return {
    name: f.name,
    version: f.version,
    kind: f.kind as Release['kind'],
    hardware: f.hardware,
    sha256: f.sha256,
    length: f.length,
    securityVersion: f.securityVersion,
    provenance: {
      sourceRevision: f.provenance?.sourceRevision ?? 'test-revision',
      builder: f.provenance?.builder ?? 'slipway-tests',
      sbomDigest: f.provenance?.sbomDigest ?? `sha256:${'0'.repeat(64)}`,
    },
  }
}

/** The release metadata envelope (as JSON, the way a push carries it) for `fields`, signed by `signers` (default: the dev release key). */
export async function signReleaseFor(srv: Pick<TestServer, 'config'>, fields: PushFields, signers?: readonly Signer[]): Promise<unknown> {
  const bytes = await signRelease(signedFields(fields), signers ?? [await devReleaseKey(srv)])
  return JSON.parse(bytes.toString('utf8'))
}
