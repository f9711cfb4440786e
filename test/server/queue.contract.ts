/**
 * One contract for the JobQueue port, run on the in-process queue and on BullMQ
 * (queue-in-process.test.ts, queue-bullmq.test.ts). Timings are tens of
 * milliseconds; every wait polls the queue's status against a deadline instead of
 * sleeping a guessed amount.
 */
import type { Test } from 'tap'
import { PermanentJobError } from '../../server/domain/ports/infrastructure.js'
import type { Job, JobQueue, JobState } from '../../server/domain/ports/infrastructure.js'

/** Node timers may fire up to a millisecond early; allow that much when checking gaps. */
const TIMER_SLACK_MS = 2
const DEADLINE_MS = 5000

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function until(what: string, check: () => boolean | Promise<boolean>, deadlineMs = DEADLINE_MS): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`)
    await sleep(10)
  }
}

const reaches = (q: JobQueue, id: string, name: string, state: JobState) =>
  until(`${name}/${id} to be ${state}`, async () => (await q.status(id, name))?.state === state)

/** A promise the test resolves by hand, to hold a job active. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {}
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { opened, open }
}

export function queueContract(t: Test, makeQueue: () => Promise<JobQueue>): void {
  const fresh = async (t: Test): Promise<JobQueue> => {
    const q = await makeQueue()
    t.teardown(() => q.close())
    return q
  }

  t.test('a job runs once with its data, id, name and attempt 1', async (t) => {
    const q = await fresh(t)
    const seen: Job[] = []
    q.handle('greet', async (job) => void seen.push(job))
    await q.start()
    const id = await q.enqueue('greet', { hello: 'world', n: 1 })
    await reaches(q, id, 'greet', 'completed')
    t.same(seen, [{ id, name: 'greet', data: { hello: 'world', n: 1 }, attempt: 1 }])
    t.match(await q.status(id, 'greet'), { id, name: 'greet', state: 'completed', attemptsMade: 1 })
    t.equal(await q.status('no-such-job', 'greet'), undefined, 'an unknown id has no status')
  })

  t.test('a failing job retries with exponential backoff and succeeds on the 3rd try', async (t) => {
    const q = await fresh(t)
    const tries: { attempt: number; at: number }[] = []
    q.handle('flaky', async (job) => {
      tries.push({ attempt: job.attempt, at: Date.now() })
      if (job.attempt < 3) throw new Error(`try ${job.attempt} fails`)
    })
    await q.start()
    const id = await q.enqueue('flaky', {}, { backoffMs: 50 })
    await reaches(q, id, 'flaky', 'completed')
    t.same(tries.map((x) => x.attempt), [1, 2, 3])
    const [first, second, third] = tries.map((x) => x.at) as [number, number, number]
    t.ok(second - first >= 50 - TIMER_SLACK_MS, `first retry waits backoffMs (waited ${second - first} ms)`)
    t.ok(third - second >= 100 - TIMER_SLACK_MS, `second retry waits 2 * backoffMs (waited ${third - second} ms)`)
    t.match(await q.status(id, 'flaky'), { state: 'completed', attemptsMade: 3 })
  })

  t.test('a job that always fails ends failed after `attempts` tries', async (t) => {
    const q = await fresh(t)
    let calls = 0
    q.handle('doomed', async () => {
      calls += 1
      throw new Error('boom')
    })
    await q.start()
    const id = await q.enqueue('doomed', {}, { attempts: 3, backoffMs: 10 })
    await reaches(q, id, 'doomed', 'failed')
    t.equal(calls, 3)
    t.match(await q.status(id, 'doomed'), { state: 'failed', attemptsMade: 3, failedReason: 'boom', permanent: false })
  })

  t.test('PermanentJobError fails the job at once, without retries', async (t) => {
    const q = await fresh(t)
    let calls = 0
    q.handle('bad-input', async () => {
      calls += 1
      throw new PermanentJobError('cannot ever work')
    })
    await q.start()
    const id = await q.enqueue('bad-input', {}, { attempts: 5, backoffMs: 10 })
    await reaches(q, id, 'bad-input', 'failed')
    t.equal(calls, 1)
    t.match(await q.status(id, 'bad-input'), {
      state: 'failed',
      attemptsMade: 1,
      failedReason: 'cannot ever work',
      permanent: true,
    })
  })

  t.test('jobId dedups while waiting or active; a finished id can be enqueued again', async (t) => {
    const q = await fresh(t)
    const hold = gate()
    let runs = 0
    q.handle('build-delta', async () => {
      runs += 1
      if (runs === 1) await hold.opened
    })
    t.equal(await q.enqueue('build-delta', { a: 1 }, { jobId: 'delta-x' }), 'delta-x')
    t.equal(await q.enqueue('build-delta', { a: 2 }, { jobId: 'delta-x' }), 'delta-x', 'same id while waiting')
    t.match((await q.depth())['build-delta'], { waiting: 1 }, 'the second enqueue added nothing')
    await q.start()
    await reaches(q, 'delta-x', 'build-delta', 'active')
    t.equal(await q.enqueue('build-delta', { a: 3 }, { jobId: 'delta-x' }), 'delta-x', 'same id while active')
    hold.open()
    await reaches(q, 'delta-x', 'build-delta', 'completed')
    t.equal(runs, 1, 'one run for three enqueues')

    t.equal(await q.enqueue('build-delta', { a: 4 }, { jobId: 'delta-x' }), 'delta-x')
    await until('the re-enqueued job to run', () => runs === 2)
    await reaches(q, 'delta-x', 'build-delta', 'completed')
  })

  t.test('a job id that BullMQ would refuse is refused by every adapter', async (t) => {
    const q = await fresh(t)
    for (const jobId of ['42', 'a:b', '']) {
      await t.rejects(q.enqueue('x', {}, { jobId }), { code: 'INVALID_JOB_ID' }, JSON.stringify(jobId))
    }
  })

  t.test('delayMs holds the first try back', async (t) => {
    const q = await fresh(t)
    let ranAt = 0
    q.handle('later', async () => void (ranAt = Date.now()))
    await q.start()
    const enqueuedAt = Date.now()
    const id = await q.enqueue('later', {}, { delayMs: 150 })
    t.match(await q.status(id, 'later'), { state: 'delayed' })
    await reaches(q, id, 'later', 'completed')
    t.ok(ranAt - enqueuedAt >= 150 - TIMER_SLACK_MS, `ran ${ranAt - enqueuedAt} ms after enqueue`)
  })

  t.test('concurrency 2 runs two jobs at once, never more', async (t) => {
    const q = await fresh(t)
    let current = 0
    let peak = 0
    q.handle(
      'parallel',
      async () => {
        current += 1
        peak = Math.max(peak, current)
        await sleep(100) // long enough for a second slot to pick up a job
        current -= 1
      },
      { concurrency: 2 },
    )
    const ids = [] as string[]
    for (let i = 0; i < 4; i++) ids.push(await q.enqueue('parallel', { i }))
    await q.start()
    for (const id of ids) await reaches(q, id, 'parallel', 'completed')
    t.equal(peak, 2)
  })

  t.test('every() runs a job repeatedly with its data', async (t) => {
    const q = await fresh(t)
    const seen: unknown[] = []
    q.handle('tick', async (job) => void seen.push(job.data))
    await q.start()
    await q.every('tick', 100, { sweep: true })
    await until('three ticks', () => seen.length >= 3)
    t.same(seen.slice(0, 3), [{ sweep: true }, { sweep: true }, { sweep: true }])
  })

  t.test('depth() counts waiting, active, delayed and failed jobs per name', async (t) => {
    const q = await fresh(t)
    const hold = gate()
    q.handle('busy', () => hold.opened)
    q.handle('broken', async () => {
      throw new PermanentJobError('no')
    })
    await q.enqueue('backlog', { n: 1 })
    await q.enqueue('backlog', { n: 2 })
    await q.enqueue('backlog', { n: 3 }, { delayMs: 60_000 })
    await q.start()
    const busy = await q.enqueue('busy', {})
    const broken = await q.enqueue('broken', {})
    await reaches(q, busy, 'busy', 'active')
    await reaches(q, broken, 'broken', 'failed')
    const depth = await q.depth()
    t.same(depth['backlog'], { waiting: 2, active: 0, delayed: 1, failed: 0 })
    t.same(depth['busy'], { waiting: 0, active: 1, delayed: 0, failed: 0 })
    t.same(depth['broken'], { waiting: 0, active: 0, delayed: 0, failed: 1 })
    hold.open()
  })

  t.test('a coalesce key: a no-op while its job waits, exactly one follow-up while it runs', async (t) => {
    const q = await fresh(t)
    const runs: unknown[] = []
    const hold = gate()
    q.handle('evaluate', async (job) => {
      runs.push(job.data)
      if (runs.length === 1) await hold.opened
    })
    const first = await q.enqueue('evaluate', { n: 1 }, { coalesce: 'k-a' })
    t.equal(await q.enqueue('evaluate', { n: 2 }, { coalesce: 'k-a' }), first, 'coalesced into the waiting job')
    await q.start()
    await until('the first run to start', () => runs.length === 1)
    // three enqueues while it runs make one follow-up run, with the last data
    for (const n of [3, 4, 5]) await q.enqueue('evaluate', { n }, { coalesce: 'k-a' })
    hold.open()
    await until('the follow-up run', () => runs.length === 2)
    await sleep(200)
    t.same(runs, [{ n: 1 }, { n: 5 }], 'one run before, one after; nothing folded into the running job')
    await q.enqueue('evaluate', { n: 6 }, { coalesce: 'k-a' })
    await until('a fresh run once nothing is pending', () => runs.length === 3)
    await t.rejects(q.enqueue('evaluate', {}, { coalesce: 'k-a', jobId: 'x' }), { code: 'INVALID_JOB_ID' })
    await t.rejects(q.enqueue('evaluate', {}, { coalesce: 'a:b' }), { code: 'INVALID_JOB_ID' })
  })

  t.test('ping() answers while the queue is up', async (t) => {
    const q = await fresh(t)
    await t.resolves(q.ping())
  })

  t.test('close() waits for an active job to finish', async (t) => {
    const q = await makeQueue()
    let started = false
    let finished = false
    q.handle('slow', async () => {
      started = true
      await sleep(150)
      finished = true
    })
    await q.start()
    await q.enqueue('slow', {})
    await until('the job to start', () => started)
    await q.close()
    t.ok(finished, 'the active job finished before close() resolved')
    await t.rejects(q.enqueue('slow', {}), { code: 'QUEUE_CLOSED' }, 'a closed queue takes no jobs')
  })
}
