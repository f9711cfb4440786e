/**
 * An in-process S3 (s3rver 3.7) on 127.0.0.1 and a free port, with its data in a
 * temp directory, for tests of anything that talks S3.
 *
 * What s3rver cannot stand in for: it has no multipart upload (so no object over
 * 64 MiB, and no stream of unknown size, through the minio client) and it checks
 * no signatures (a tampered or expired presigned URL still works). Keep test
 * objects small and test those behaviours against a real MinIO or AWS S3.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import S3rver from 's3rver'

export interface S3rverHandle {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  endPoint: string
  accessKey: string
  secretKey: string
  /** A bucket that already exists, unique to this server. */
  bucket: string
  /** Stop the server and delete its directory. */
  close(): Promise<void>
}

/** s3rver accepts any signature but minio signs with these; they are s3rver's defaults. */
const S3RVER_KEY = 'S3RVER'

export async function startS3rver(): Promise<S3rverHandle> {
  const directory = await mkdtemp(join(tmpdir(), 'slipway-s3rver-'))
  const bucket = `test-${randomBytes(4).toString('hex')}`
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  })
  let port: number
  try {
    ;({ port } = await server.run())
  } catch (e) {
    await rm(directory, { recursive: true, force: true })
    throw e
  }
  return {
    endPoint: `http://127.0.0.1:${port}`,
    accessKey: S3RVER_KEY,
    secretKey: S3RVER_KEY,
    bucket,
    close: async () => {
      await server.close()
      await rm(directory, { recursive: true, force: true })
    },
  }
}
