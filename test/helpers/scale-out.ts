/**
 * The scale-out deployment's services for a test: a fresh PostgreSQL database, a random
 * Redis key prefix and, optionally, an S3 endpoint (s3rver); all removed at teardown.
 * Returns the server environment that points at them.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { freshPostgres } from './postgres.js'
import { startS3rver } from './s3rver.js'

export const REDIS_URL = process.env.SLIPWAY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A random queue prefix whose Redis keys are deleted at teardown. */
export function redisPrefix(t: Test): string {
  const prefix = `slipway-test-${randomBytes(4).toString('hex')}`
  t.teardown(async () => {
    const redis = new Redis(REDIS_URL)
    const keys = await redis.keys(`${prefix}:*`)
    if (keys.length) await redis.del(...keys)
    await redis.quit()
  })
  return prefix
}

export async function scaleOutEnv(t: Test, opts: { s3?: boolean } = {}): Promise<Record<string, string>> {
  const pg = await freshPostgres()
  t.teardown(() => pg.drop())
  // replicas share their keys, as deployed (one keys folder or one HSM): the device CA's
  // certificate is kept in the database, so every replica must sign with its key
  const keys = await mkdtemp(join(tmpdir(), 'slipway-keys-'))
  t.teardown(() => rm(keys, { recursive: true, force: true }))
  const env: Record<string, string> = { DATABASE_URL: pg.url, REDIS_URL, SLIPWAY_QUEUE_PREFIX: redisPrefix(t), SLIPWAY_KEYS_DIR: keys }
  if (opts.s3) {
    const s3 = await startS3rver()
    t.teardown(() => s3.close())
    Object.assign(env, { S3_ENDPOINT: s3.endPoint, S3_BUCKET: s3.bucket, S3_ACCESS_KEY: s3.accessKey, S3_SECRET_KEY: s3.secretKey })
  }
  return env
}
