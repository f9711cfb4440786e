/**
 * Issue 11: a report that lands while its rollout's evaluation is running must cause
 * another evaluation. fast-check drives the interleavings (report gaps, evaluation
 * durations) through the real `evaluateSoon` on both queue adapters (in-process and
 * BullMQ on the real Redis): a report "commits" by bumping the rollout's version, then
 * asks for an evaluation, exactly like ReportService; an evaluation reads the version
 * when it starts, like RolloutService.evaluate reads the members. Every report must
 * be seen by an evaluation that started after it, within 2 s.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { BullMqQueue, InProcessQueue } from '../../server/adapters/queue/index.js'
import type { JobQueue } from '../../server/domain/ports/infrastructure.js'
import { JOBS } from '../../server/domain/jobs.js'
import { evaluateSoon } from '../../server/domain/rollouts/evaluate-soon.js'

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const ACT_WITHIN_MS = 2000
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

interface Trial {
  version: number
  /** per report: when it was committed */
  reports: Array<{ version: number; at: number }>
  /** per evaluation: the version it read when it started, and when */
  evaluations: Array<{ seen: number; at: number }>
  durations: number[]
}

const schedule = fc.record({
  gaps: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 25 }),
  durations: fc.array(fc.integer({ min: 0, max: 25 }), { minLength: 1, maxLength: 8 }),
})

async function sweep(t: Test, queue: JobQueue, numRuns: number): Promise<void> {
  const trials = new Map<string, Trial>()
  queue.handle<{ rolloutId: string }>(
    JOBS.evaluateRollout,
    async (job) => {
      const trial = trials.get(job.data.rolloutId)!
      trial.evaluations.push({ seen: trial.version, at: Date.now() })
      await sleep(trial.durations[trial.evaluations.length % trial.durations.length]!)
    },
    { concurrency: 4 },
  )
  await queue.start()
  let interleavings = 0
  await fc.assert(
    fc.asyncProperty(schedule, async ({ gaps, durations }) => {
      const id = randomUUID()
      const trial: Trial = { version: 0, reports: [], evaluations: [], durations }
      trials.set(id, trial)
      for (const gap of gaps) {
        if (gap > 0) await sleep(gap)
        trial.version += 1
        trial.reports.push({ version: trial.version, at: Date.now() })
        evaluateSoon(queue, id)
      }
      const deadline = trial.reports.at(-1)!.at + ACT_WITHIN_MS
      while (!trial.evaluations.some((e) => e.seen === trial.version) && Date.now() < deadline) await sleep(5)
      interleavings += gaps.length
      for (const r of trial.reports) {
        const acted = trial.evaluations.find((e) => e.seen >= r.version)
        if (!acted || acted.at - r.at > ACT_WITHIN_MS)
          throw new Error(`report ${r.version} of ${gaps.length} was not evaluated within ${ACT_WITHIN_MS} ms (evaluations saw ${trial.evaluations.map((e) => e.seen).join(',')})`)
      }
      trials.delete(id)
    }),
    // fast-check prints the seed and the shrunk schedule on failure
    { numRuns },
  )
  t.pass(`${numRuns} schedules, ${interleavings} reports: each one evaluated after it landed, within ${ACT_WITHIN_MS} ms`)
}

t.test('in-process queue', async (t) => {
  const queue = new InProcessQueue()
  t.teardown(() => queue.close())
  await sweep(t, queue, 300)
})

t.test('BullMQ on Redis', async (t) => {
  const prefix = `slipway-test-${randomBytes(6).toString('hex')}`
  try {
    await new BullMqQueue({ url: REDIS_URL }).ping()
  } catch (err) {
    throw new Error(`this test needs Redis at ${REDIS_URL}`, { cause: err })
  }
  const queue = new BullMqQueue({ url: REDIS_URL, prefix })
  t.teardown(async () => {
    await queue.close()
    const redis = new Redis(REDIS_URL)
    const keys = await redis.keys(`${prefix}:*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })
  await sweep(t, queue, 120)
})
