/**
 * Really signed fixtures, generated at test time (no key is ever committed).
 * Not a test file: tap runs only `*.test.ts`.
 */
import { createHash } from 'node:crypto'
import { encodeEnvelope, signEnvelope } from '../../signing/envelope.js'
import { FileKeySigner } from '../../signing/file-signer.js'
import type { KeyType } from '../../signing/keys.js'
import { buildAssignment, type Assignment } from '../../signing/metadata/assignment.js'
import { expiresIn } from '../../signing/metadata/common.js'
import { buildRelease, type Release } from '../../signing/metadata/release.js'
import { buildRoot, type RootSigned } from '../../signing/metadata/root.js'
import type { Signer } from '../../signing/signer.js'

export const DAY = 86400

export interface RootKeys {
  root: Signer[]
  release: Signer[]
  online: Signer[]
}

export function keys(n: { root?: number; release?: number; online?: number } = {}, type: KeyType = 'ed25519'): RootKeys {
  const gen = (k: number) => Array.from({ length: k }, (_, i) => FileKeySigner.generate(i % 2 === 0 ? type : type === 'ed25519' ? 'ecdsa' : 'ed25519'))
  return { root: gen(n.root ?? 3), release: gen(n.release ?? 2), online: gen(n.online ?? 1) }
}

export function rootSigned(k: RootKeys, o: { version?: number; expires?: string; thresholds?: Partial<Record<'root' | 'release' | 'online', number>> } = {}): RootSigned {
  const th = o.thresholds ?? {}
  return buildRoot({
    version: o.version ?? 1,
    expires: o.expires ?? expiresIn(365 * DAY),
    roles: {
      root: { keys: k.root.map((s) => s.publicKey), threshold: th.root ?? 2 },
      release: { keys: k.release.map((s) => s.publicKey), threshold: th.release ?? 1 },
      online: { keys: k.online.map((s) => s.publicKey), threshold: th.online ?? 1 },
    },
  })
}

export async function signed(doc: unknown, signers: readonly Signer[]): Promise<Buffer> {
  return encodeEnvelope(await signEnvelope(doc, signers))
}

export const payload = Buffer.from('pretend this is a 4 GB OS image\n'.repeat(100))
export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

export function release(over: Partial<Release> = {}): Release {
  return {
    name: 'edge-os',
    version: '2.1.0',
    kind: 'os-image',
    hardware: ['rpi4', 'rpi5'],
    sha256: sha256(payload),
    length: payload.length,
    securityVersion: 5,
    provenance: { sourceRevision: 'a'.repeat(40), builder: 'https://ci.example/runner/7', sbomDigest: 'sha256:' + 'b'.repeat(64) },
    ...over,
  }
}

export const releaseDoc = (r: Release = release(), expires = expiresIn(30 * DAY)) => buildRelease(r, { expires })

export function assignment(over: Partial<Assignment> = {}, r: Release = release()): Assignment {
  return { deviceId: 'dev-001', release: { name: r.name, version: r.version, sha256: r.sha256 }, rolloutId: 'ro-1', counter: 7, ...over }
}

export const assignmentDoc = (a: Assignment = assignment(), expires = expiresIn(DAY)) => buildAssignment(a, { expires })
