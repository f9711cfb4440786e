/**
 * `slipway push FILE …`: what a CI job runs. Hashes the file, signs its release
 * metadata (with --key / SLIPWAY_RELEASE_KEY, or takes a pre-signed --metadata
 * file), uploads it with tus (resumable: a re-run of the same push continues where
 * the last one stopped), then publishes the release. Reads SLIPWAY_URL and
 * SLIPWAY_TOKEN.
 */
import { createReadStream } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import * as tus from 'tus-js-client'
import { CliFailure } from './args.js'
import { unreachable } from './http-client.js'
import { signRelease } from '../../signing/index.js'
import { parse, required, UsageError } from './args.js'
import { apiRequest, type CliEnv } from './http-client.js'
import { openSigners } from './key-spec.js'
import { progressBar } from './progress.js'
import { artifactFile, RELEASE_OPTIONS, RELEASE_USAGE, releaseFlags, releaseOf, sha256File } from './release-fields.js'

// Node build exports FileUrlStorage; the bundled .d.ts only types the browser build
const { FileUrlStorage } = tus as unknown as { FileUrlStorage: new (path: string) => tus.UrlStorage }

export const USAGE = `usage: slipway push FILE ${RELEASE_USAGE}
                    (--key KEY [--key KEY…] | --metadata FILE.json)
  --key KEY        sign the release metadata with this CI release key (default: $SLIPWAY_RELEASE_KEY):
                   a PEM key file, or pkcs11:token=<label>;object=<key label> (PKCS11_MODULE, PKCS11_PIN)
  --metadata FILE  release metadata already signed with slipway release sign`

function tusUpload(env: CliEnv, path: string, size: number, fingerprint: string, onProgress: (sent: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const stateDir = process.env.SLIPWAY_CLI_STATE ?? join(homedir(), '.config', 'slipway')
    const upload = new tus.Upload(createReadStream(path), {
      endpoint: `${env.url}/v1/uploads`,
      headers: { authorization: `Bearer ${env.token}` },
      uploadSize: size,
      // each PATCH streams a 64 MiB slice of the file: bounded requests, nothing buffered
      chunkSize: 64 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      metadata: { filename: path.split('/').pop() ?? 'artifact' },
      urlStorage: new FileUrlStorage(join(stateDir, 'uploads.json')),
      fingerprint: async () => fingerprint,
      removeFingerprintOnSuccess: true,
      onProgress: (sent) => onProgress(sent),
      onError: (e) => reject(tusFailure(env.url, e)),
      onSuccess: () => resolve(upload.url!.split('/').pop()!),
    })
    void mkdir(stateDir, { recursive: true }).then(async () => {
      const previous = await upload.findPreviousUploads()
      if (previous[0]) upload.resumeFromPreviousUpload(previous[0])
      upload.start()
    }, reject)
  })
}

export async function pushCommand(env: CliEnv, argv: string[], keyFromEnv = process.env.SLIPWAY_RELEASE_KEY): Promise<void> {
  const { values, positionals } = parse(argv, { ...RELEASE_OPTIONS, metadata: { type: 'string' }, key: { type: 'string', multiple: true } }, USAGE)
  const file = required(positionals[0], 'FILE', USAGE)
  // every flag is checked before a byte is hashed or sent
  const flags = releaseFlags(values, USAGE)
  const info = await artifactFile(file)
  if (values.metadata && values.key) throw new UsageError('give either --key (sign now) or --metadata (signed already), not both')
  const keys = values.key ?? (values.metadata || !keyFromEnv ? [] : [keyFromEnv])
  if (!values.metadata && keys.length === 0)
    throw new UsageError(`the server accepts only signed releases: give --key KEY (or set SLIPWAY_RELEASE_KEY), or --metadata FILE.json\n\n${USAGE}`)
  let metadata: unknown
  if (values.metadata) metadata = JSON.parse(await readFile(values.metadata, 'utf8'))
  // open the keys before the upload: a wrong PIN or path must not cost a multi-GB transfer
  const { signers, close } = await openSigners(keys)
  const { name, version, kind, hardware, securityVersion, provenance } = flags

  const bar = progressBar(info.size)
  bar.phase('hashing')
  let sha256: string
  try {
    sha256 = await sha256File(file)
    if (signers.length > 0) metadata = JSON.parse((await signRelease(releaseOf(flags, { sha256, length: info.size }), signers)).toString('utf8'))
  } finally {
    await close()
  }
  bar.phase('uploading')
  const fingerprint = `slipway-${sha256}-${info.size}-${env.url}`
  const uploadId = await tusUpload(env, file, info.size, fingerprint, (sent) => bar.update(sent))
  bar.done()

  const { status, body } = await apiRequest(env, 'POST', '/v1/releases', {
    uploadId,
    name,
    version,
    kind,
    hardware,
    sha256,
    length: info.size,
    securityVersion,
    provenance,
    ...(metadata === undefined ? {} : { metadata }),
  })
  const release = body as { id: string; sha256: string; name: string; version: string }
  process.stderr.write(status === 201 ? 'published\n' : 'already published (identical)\n')
  process.stdout.write(`${JSON.stringify({ id: release.id, name: release.name, version: release.version, sha256: release.sha256 })}\n`)
}

/** tus's errors, as the CLI's codes: a 401 is AUTH_INVALID, no answer at all SERVER_UNREACHABLE. */
function tusFailure(url: string, e: Error): Error {
  const res = (e as { originalResponse?: { getStatus(): number; getBody(): string } | null }).originalResponse
  if (!res) return unreachable(url, e)
  const status = res.getStatus()
  let apiError: { code?: string; message?: string } | undefined
  try {
    apiError = (JSON.parse(res.getBody()) as { error?: { code?: string; message?: string } }).error
  } catch {
    apiError = undefined
  }
  if (status === 401) return new CliFailure('AUTH_INVALID', `the server refused SLIPWAY_TOKEN (${apiError?.code ?? 401}): create a token with slipway token create --role ci`)
  return new CliFailure(apiError?.code ?? 'UPLOAD_FAILED', `${status}: ${apiError?.message ?? e.message}`)
}
