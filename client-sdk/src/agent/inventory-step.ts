/**
 * The inventory report (issue 12 §3): sent once per agent start (boot) and then only
 * when its digest changes; the package list goes along only when the server answers
 * `wantPackages` (it lacks the list of that digest). A failed send is tried again on
 * the next idle tick and never holds up the poll or an update.
 */
import { join } from 'node:path'
import { readJson, writeJsonDurable } from '../journal/atomic-file.js'
import { collectInventory } from '../inventory/collect.js'
import { inventoryDigest } from '../wire/index.js'
import type { UpdateContext } from './context.js'

export type InventoryOutcome = 'sent' | 'unchanged' | 'failed'

export class InventoryReporter {
  #sentThisRun = false

  /** `inventory.json` in the data folder: the digest last accepted by the server */
  readonly file: string

  constructor(dataDir: string) {
    this.file = join(dataDir, 'inventory.json')
  }

  async maybeSend(ctx: UpdateContext): Promise<InventoryOutcome> {
    if (ctx.config.inventory?.enabled === false) return 'unchanged'
    try {
      const { report, packageList } = await collectInventory(ctx.config, ctx.journal, ctx.slots)
      const digest = inventoryDigest(report)
      const last = await readJson<{ digest?: string }>(this.file).catch(() => undefined)
      if (this.#sentThisRun && last?.digest === digest) return 'unchanged'
      const body = { ...report, digest, at: new Date().toISOString() }
      const answer = await ctx.api.inventory(body)
      await writeJsonDurable(this.file, { digest, sentAt: body.at })
      this.#sentThisRun = true
      if (answer.wantPackages && packageList && body.packages) {
        await ctx.api.inventory({ ...body, packages: { ...body.packages, list: packageList } }).catch((e: unknown) => {
          ctx.log('warn', 'inventory: the package list was not accepted', { message: (e as Error).message })
        })
      }
      ctx.log('info', 'inventory reported', { digest, changed: answer.changed, packages: answer.wantPackages ? 'sent' : 'not asked' })
      return 'sent'
    } catch (e) {
      ctx.log('warn', 'inventory report failed; tried again next tick', { code: (e as { code?: string }).code, message: (e as Error).message })
      return 'failed'
    }
  }
}
