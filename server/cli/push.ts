/**
 * `slipway push FILE …`: what a CI job runs.
 *
 * 1. Asks the server whether the push would be accepted (version, signing keys, an
 *    existing release) before hashing a byte: a refusal costs a second, not an upload.
 * 2. Hashes the file and signs its release metadata (--key / SLIPWAY_RELEASE_KEY), or
 *    takes metadata signed already (--metadata), and asks again with the signature:
 *    an identical release is reported at once, with no upload.
 * 3. Uploads with tus (resumable: a re-run continues where the last one stopped, also
 *    after a failed run), publishes, and writes the signed metadata beside the artifact
 *    as FILE.release.json (what `slipway release verify` checks offline).
 * Reads SLIPWAY_URL and SLIPWAY_TOKEN.
 */
import { createReadStream } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import * as tus from 'tus-js-client'
import { canonicalWire } from '../../signing/canonical-json.js'
import { signRelease } from '../../signing/index.js'
import { parse, required, UsageError } from './args.js'
import { ApiError, apiRequest, unreachable, type CliEnv } from './http-client.js'
import { openSigners } from './key-spec.js'
import { progressBar } from './progress.js'
import { artifactFile, RELEASE_OPTIONS, RELEASE_USAGE, releaseFlags, releaseOf, sha256File } from './release-fields.js'
import { sbomFile, signedProvenance, type SignedEnvelope } from './push-provenance.js'

// Node build exports FileUrlStorage; the bundled .d.ts only types the browser build
const { FileUrlStorage } = tus as unknown as { FileUrlStorage: new (path: string) => tus.UrlStorage }

export const USAGE = `usage: slipway push FILE ${RELEASE_USAGE}
                    (--key KEY [--key KEY…] | --metadata FILE.json)
  --key KEY        sign the release metadata with this CI release key (default: $SLIPWAY_RELEASE_KEY):
                   a PEM key file, or pkcs11:token=<label>;object=<key label> (PKCS11_MODULE, PKCS11_PIN)
  --metadata FILE  release metadata already signed with slipway release sign
  --sbom FILE      store this SBOM on the server and sign its sha256 as the provenance sbomDigest
Writes the signed metadata to FILE.release.json (for slipway release verify).`

/** Delays between attempts of one upload request, ms: about 40 s in all before the run fails. */
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000]

/** A tus failure as the CLI's error: the server's code when it answered, SERVER_UNREACHABLE when it did not. */
function uploadError(env: CliEnv, e: unknown): Error {
  const res = (e as { originalResponse?: { getStatus(): number; getBody(): string } | null }).originalResponse
  if (!res) return unreachable(`${env.url}/v1/uploads`, (e as { causingError?: unknown }).causingError ?? e)
  let err: { code?: string; message?: string } | undefined
  try {
    err = (JSON.parse(res.getBody()) as { error?: { code?: string; message?: string } }).error
  } catch {
    /* not our error body (a proxy's page, say) */
  }
  const status = res.getStatus()
  return new ApiError(status, err?.code ?? (status === 401 ? 'AUTH_INVALID' : 'UPLOAD_FAILED'), err?.message ?? `the upload was refused with HTTP ${status} by ${env.url}`)
}

/** The upload id; or, when the server found the release published meanwhile (200 at creation), that release. */
type Uploaded = { uploadId: string } | { existing: { id: string; sha256: string; name: string; version: string } }

function tusUpload(env: CliEnv, path: string, size: number, fingerprint: string, release: string, onProgress: (sent: number) => void): Promise<Uploaded> {
  return new Promise((resolve, reject) => {
    const stateDir = process.env.SLIPWAY_CLI_STATE ?? join(homedir(), '.config', 'slipway')
    const upload = new tus.Upload(createReadStream(path), {
      endpoint: `${env.url}/v1/uploads`,
      headers: { authorization: `Bearer ${env.token}` },
      uploadSize: size,
      // each PATCH streams a 64 MiB slice of the file: bounded requests, nothing buffered
      chunkSize: 64 * 1024 * 1024,
      retryDelays: RETRY_DELAYS,
      // the signed release metadata rides on the creation request: the server refuses
      // there, before the first byte, whatever the preflight did not catch
      metadata: { filename: path.split('/').pop() ?? 'artifact', release },
      urlStorage: new FileUrlStorage(join(stateDir, 'uploads.json')),
      fingerprint: async () => fingerprint,
      removeFingerprintOnSuccess: true,
      onShouldRetry: (err, attempt) => {
        const status = err.originalResponse?.getStatus() ?? 0
        // the server said no (auth, size, …): retrying will not change its mind
        const retry = status === 0 || status === 409 || status === 423 || status >= 500
        if (retry && attempt < RETRY_DELAYS.length)
          process.stderr.write(`upload interrupted (${status ? `HTTP ${status}` : 'no answer'} from ${env.url}); retry ${attempt + 1} of ${RETRY_DELAYS.length} in ${(RETRY_DELAYS[attempt] ?? 0) / 1000} s\n`)
        return retry
      },
      onProgress: (sent) => onProgress(sent),
      onError: (e) => {
        const res = (e as { originalResponse?: { getStatus(): number; getBody(): string } | null }).originalResponse
        if (res?.getStatus() === 200) {
          const existing = (JSON.parse(res.getBody() || '{}') as Partial<Extract<Uploaded, { existing: unknown }>>).existing
          if (existing) return resolve({ existing })
        }
        reject(uploadError(env, e))
      },
      onSuccess: () => resolve({ uploadId: upload.url!.split('/').pop()! }),
    })
    void mkdir(stateDir, { recursive: true }).then(async () => {
      const previous = await upload.findPreviousUploads()
      if (previous[0]) upload.resumeFromPreviousUpload(previous[0])
      upload.start()
    }, reject)
  })
}

export async function pushCommand(env: CliEnv, argv: string[], keyFromEnv = process.env.SLIPWAY_RELEASE_KEY): Promise<void> {
  const { values, positionals } = parse(argv, { ...RELEASE_OPTIONS, metadata: { type: 'string' }, key: { type: 'string', multiple: true }, sbom: { type: 'string' } }, USAGE)
  const file = required(positionals[0], 'FILE', USAGE)
  // every flag is checked before a byte is hashed or sent
  const flags = releaseFlags(values, USAGE)
  const info = await artifactFile(file)
  if (values.metadata && values.key) throw new UsageError('give either --key (sign now) or --metadata (signed already), not both')
  const keys = values.key ?? (values.metadata || !keyFromEnv ? [] : [keyFromEnv])
  if (!values.metadata && keys.length === 0)
    throw new UsageError(`the server accepts only signed releases: give --key KEY (or set SLIPWAY_RELEASE_KEY), or --metadata FILE.json\n\n${USAGE}`)
  let metadata: SignedEnvelope | undefined
  if (values.metadata) {
    metadata = JSON.parse(await readFile(values.metadata, 'utf8')) as SignedEnvelope
    // what is signed already is what the provenance policy will see
    flags.provenance = { ...signedProvenance(metadata), ...flags.provenance }
  }
  const sbom = values.sbom ? await sbomFile(values.sbom, flags.provenance.sbomDigest) : undefined
  if (sbom) flags.provenance.sbomDigest = sbom.digest
  // open the keys before the upload: a wrong PIN or path must not cost a multi-GB transfer
  const { signers, close } = await openSigners(keys)
  const { name, version, kind, hardware, securityVersion, provenance } = flags
  const fields = { name, version, kind, hardware, length: info.size, securityVersion, provenance }
  let signedBytes: Buffer | undefined
  let sha256: string
  try {
    // 1. refusals that need no bytes: version, keys, a different release of this version
    const keyIds = signers.length > 0 ? signers.map((s) => s.keyId) : (metadata?.signatures ?? []).map((s) => String(s.keyid))
    await apiRequest(env, 'POST', '/v1/releases/preflight', { ...fields, keyIds })
    if (sbom) await apiRequest(env, 'POST', '/v1/sboms', sbom.bytes)

    const bar = progressBar(info.size)
    bar.phase('hashing')
    sha256 = await sha256File(file, (n) => bar.update(n))
    bar.done()
    signedBytes = signers.length > 0 ? await signRelease(releaseOf(flags, { sha256, length: info.size }), signers) : Buffer.from(canonicalWire(metadata), 'utf8')
  } finally {
    await close()
  }
  const signed = JSON.parse(signedBytes.toString('utf8')) as unknown

  // 2. the signed metadata itself; an identical release needs no upload
  const pre = (await apiRequest(env, 'POST', '/v1/releases/preflight', { ...fields, sha256, metadata: signed })).body as { existing: { id: string } | null }
  let status = 200
  let release = pre.existing as { id: string; sha256: string; name: string; version: string } | null
  if (!release) {
    const bar = progressBar(info.size)
    bar.phase('uploading')
    const fingerprint = `slipway-${sha256}-${info.size}-${env.url}`
    const uploaded = await tusUpload(env, file, info.size, fingerprint, signedBytes.toString('utf8'), (sent) => bar.update(sent))
    bar.done()
    if ('existing' in uploaded) release = uploaded.existing
    else {
      const published = await apiRequest(env, 'POST', '/v1/releases', { uploadId: uploaded.uploadId, ...fields, sha256, metadata: signed })
      status = published.status
      release = published.body as typeof release & object
    }
  }
  const metadataFile = `${file}.release.json`
  await writeFile(metadataFile, signedBytes).catch((e: Error) => process.stderr.write(`warning: could not write ${metadataFile}: ${e.message}\n`))
  process.stderr.write(status === 201 ? 'published\n' : 'already published (identical)\n')
  process.stdout.write(`${JSON.stringify({ id: release.id, name: release.name, version: release.version, sha256: release.sha256, metadata: metadataFile })}\n`)
}
