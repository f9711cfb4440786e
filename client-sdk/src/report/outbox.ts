/**
 * The on-disk queue of reports: one durable file per event or health report,
 * named by its `seq`, so the queue survives reboots and power loss and is
 * flushed in `seq` order. `seq` itself is persisted before it is used, so it
 * only ever grows over the device's lifetime (a crash can skip a number, never
 * repeat one).
 */
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import type { DeviceEvent, HealthReport, SecurityEvent } from '../net/device-api.js'
import { readJson, syncDir, writeJsonDurable } from '../journal/atomic-file.js'

export type Report = { kind: 'event'; body: DeviceEvent } | { kind: 'health'; body: HealthReport } | { kind: 'security'; body: SecurityEvent }

export interface QueuedReport {
  file: string
  report: Report
}

/** Distributes Omit over the union members. */
export type Unsequenced =
  | { kind: 'event'; body: Omit<DeviceEvent, 'seq'> }
  | { kind: 'health'; body: Omit<HealthReport, 'seq'> }
  | { kind: 'security'; body: Omit<SecurityEvent, 'seq'> }

const NAME = /^(\d{12})\.json$/

export class Outbox {
  #next = 1
  readonly #ids = new Set<string>()

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<Outbox> {
    await mkdir(dir, { recursive: true })
    const box = new Outbox(dir)
    const saved = await readJson<{ next: number }>(join(dir, 'seq.json')).catch(() => undefined)
    let next = saved && Number.isSafeInteger(saved.next) ? saved.next : 1
    for (const q of await box.list()) {
      box.#ids.add(q.report.body.id)
      next = Math.max(next, q.report.body.seq + 1)
    }
    box.#next = next
    // a temp file of a write that a crash interrupted (the rename never happened): nothing refers to it.
    // Only a dead writer's (the suffix is its pid): `slipway-agent status` opens the outbox while the daemon writes.
    for (const n of await readdir(dir)) {
      const pid = /\.tmp-(\d+)$/.exec(n)?.[1]
      if (pid && !alive(Number(pid))) await rm(join(dir, n), { force: true })
    }
    return box
  }

  #adding: Promise<unknown> = Promise.resolve()

  /**
   * Queue a report unless one with the same id is already queued; returns its seq (or undefined).
   * Adds run one at a time: a progress report queued without waiting must never share a seq
   * (or the seq file's temp file) with the state report queued right after it.
   */
  add(r: Unsequenced): Promise<number | undefined> {
    const next = this.#adding.then(() => this.#add(r))
    this.#adding = next.catch(() => undefined)
    return next
  }

  async #add(r: Unsequenced): Promise<number | undefined> {
    if (this.#ids.has(r.body.id)) return undefined
    const seq = this.#next
    await writeJsonDurable(join(this.dir, 'seq.json'), { next: seq + 1 })
    this.#next = seq + 1
    const report = { kind: r.kind, body: { ...r.body, seq } } as Report
    await writeJsonDurable(join(this.dir, `${String(seq).padStart(12, '0')}.json`), report)
    this.#ids.add(r.body.id)
    return seq
  }

  /** Queued reports, oldest first. A file that does not parse (torn by a crash before rename cannot happen, but a bad disk can) is dropped. */
  async list(): Promise<QueuedReport[]> {
    const names = (await readdir(this.dir)).filter((n) => NAME.test(n)).sort()
    const out: QueuedReport[] = []
    for (const file of names) {
      const report = await readJson<Report>(join(this.dir, file)).catch(() => undefined)
      if (report && (report.kind === 'event' || report.kind === 'health' || report.kind === 'security') && typeof report.body?.id === 'string') out.push({ file, report })
      else await rm(join(this.dir, file), { force: true })
    }
    return out
  }

  async remove(items: QueuedReport[]): Promise<void> {
    for (const q of items) {
      await rm(join(this.dir, q.file), { force: true })
      this.#ids.delete(q.report.body.id)
    }
    if (items.length) await syncDir(this.dir)
  }

  get size(): number {
    return this.#ids.size
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
