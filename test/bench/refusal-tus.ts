/**
 * bench:transfer, the raw tus path (issue 17): a tus client that is not `slipway push`
 * puts the signed release metadata in its creation request (Upload-Metadata `release`)
 * and is answered before its first byte. Times the creation request alone: the client
 * hashed and signed the artifact before, as CI does.
 */
import { FileKeySigner, signRelease, type Provenance, type Signer } from '../../signing/index.js'

const UNSPECIFIED: Provenance = { sourceRevision: 'unspecified', builder: 'unspecified', sbomDigest: 'unspecified' }

export interface RawTusTarget {
  url: string
  ciToken: string
  /** the dev release key the server trusts, and one it does not */
  keyPath: string
  strangerKeyPath: string
  /** the artifact pushed already as `name@1.0.0` */
  name: string
  sha256: string
  size: number
}

async function create(t: RawTusTarget, version: string, signer: Signer, provenance = UNSPECIFIED) {
  const doc = await signRelease({ name: t.name, version, kind: 'os-image', hardware: ['rpi5'], sha256: t.sha256, length: t.size, securityVersion: 0, provenance }, [signer])
  const meta = `filename ${Buffer.from('image.ext4').toString('base64')},release ${doc.toString('base64')}`
  const t0 = process.hrtime.bigint()
  const res = await fetch(`${t.url}/v1/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.ciToken}`, 'tus-resumable': '1.0.0', 'upload-length': String(t.size), 'upload-metadata': meta },
  })
  const body = await res.text()
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, status: res.status, body }
}

/** [label, seconds] per case; throws when an answer is not the expected refusal. `policySet` is called between the cases that need it. */
export async function rawTusRefusals(t: RawTusTarget, setPolicy: () => Promise<void>): Promise<Array<readonly [string, number]>> {
  const [key, stranger] = [await FileKeySigner.load(t.keyPath), await FileKeySigner.load(t.strangerKeyPath)]
  const cases: Array<[string, () => ReturnType<typeof create>, RegExp]> = [
    ['raw tus: identical release (200)', () => create(t, '1.0.0', key), /"existing"/],
    ['raw tus: unknown signing key', () => create(t, '1.0.5', stranger), /SIGNATURE_UNKNOWN_KEY/],
    ['raw tus: provenance policy', () => create(t, '1.0.6', key), /PROVENANCE_REQUIRED/],
  ]
  const out: Array<readonly [string, number]> = []
  for (const [label, run, expect] of cases) {
    if (/policy/.test(label)) await setPolicy()
    const r = await run()
    if (!expect.test(r.body) || r.status === 201) throw new Error(`${label}: unexpected answer ${r.status} ${r.body}`)
    out.push([label, r.seconds])
  }
  return out
}
