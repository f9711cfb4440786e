/**
 * `slipway push FILE …`: what a CI job runs. Hashes the file, uploads it with tus
 * (resumable: a re-run of the same push continues where the last one stopped), then
 * publishes the release. Reads SLIPWAY_URL and SLIPWAY_TOKEN.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, readFile, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import * as tus from 'tus-js-client'
import { parse, required, UsageError } from './args.js'
import { apiRequest, type CliEnv } from './http-client.js'
import { progressBar } from './progress.js'

// Node build exports FileUrlStorage; the bundled .d.ts only types the browser build
const { FileUrlStorage } = tus as unknown as { FileUrlStorage: new (path: string) => tus.UrlStorage }

const USAGE = `usage: slipway push FILE --name NAME --version SEMVER --kind os-image|model --hardware HW[,HW...]
                    [--security-version N] [--source-revision REV] [--builder ID] [--sbom-digest DIGEST]
                    [--metadata FILE.json]   (CI-signed release metadata envelope)`

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer)
  return h.digest('hex')
}

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
      onError: (e) => reject(e),
      onSuccess: () => resolve(upload.url!.split('/').pop()!),
    })
    void mkdir(stateDir, { recursive: true }).then(async () => {
      const previous = await upload.findPreviousUploads()
      if (previous[0]) upload.resumeFromPreviousUpload(previous[0])
      upload.start()
    }, reject)
  })
}

export async function pushCommand(env: CliEnv, argv: string[]): Promise<void> {
  const { values, positionals } = parse(
    argv,
    {
      name: { type: 'string' },
      version: { type: 'string' },
      kind: { type: 'string' },
      hardware: { type: 'string', multiple: true },
      'security-version': { type: 'string', default: '0' },
      'source-revision': { type: 'string' },
      builder: { type: 'string' },
      'sbom-digest': { type: 'string' },
      metadata: { type: 'string' },
    },
    USAGE,
  )
  const file = required(positionals[0], 'FILE', USAGE)
  // every flag is checked before a byte is hashed or sent
  const name = required(values.name, '--name', USAGE)
  const version = required(values.version, '--version', USAGE)
  const kind = required(values.kind, '--kind', USAGE)
  const info = await stat(file).catch(() => undefined)
  if (!info?.isFile()) throw new UsageError(`${file} is not a readable file`)
  const securityVersion = Number(values['security-version'])
  if (!Number.isInteger(securityVersion) || securityVersion < 0) throw new UsageError('--security-version must be a whole number')
  const hardware = (values.hardware ?? []).flatMap((h) => h.split(',')).map((h) => h.trim()).filter(Boolean)
  if (hardware.length === 0) throw new UsageError(`--hardware is required\n\n${USAGE}`)
  let metadata: unknown
  if (values.metadata) metadata = JSON.parse(await readFile(values.metadata, 'utf8'))

  const bar = progressBar(info.size)
  bar.phase('hashing')
  const sha256 = await sha256File(file)
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
    provenance: {
      ...(values['source-revision'] ? { sourceRevision: values['source-revision'] } : {}),
      ...(values.builder ? { builder: values.builder } : {}),
      ...(values['sbom-digest'] ? { sbomDigest: values['sbom-digest'] } : {}),
    },
    ...(metadata === undefined ? {} : { metadata }),
  })
  const release = body as { id: string; sha256: string; name: string; version: string }
  process.stderr.write(status === 201 ? 'published\n' : 'already published (identical)\n')
  process.stdout.write(`${JSON.stringify({ id: release.id, name: release.name, version: release.version, sha256: release.sha256 })}\n`)
}
