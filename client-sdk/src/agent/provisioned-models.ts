/**
 * Models put on the device at provisioning (a store with a `current` link and a
 * complete manifest, see models/store.ts) count as live until the first model
 * update of that name commits, as `installed` does for the OS image. Without
 * this the agent would not know what it runs: no delta could ever apply to a
 * factory model, and the server would not see it at enrollment.
 * securityVersion 0: the manifest does not carry it; the first signed update sets it.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { ModelsConfig } from '../config/agent-config.js'
import type { Journal } from '../journal/journal.js'
import { ModelStore } from '../models/index.js'

export async function adoptProvisionedModels(models: ModelsConfig, journal: Journal): Promise<void> {
  const names = await readdir(models.dir).catch(() => [] as string[])
  const found: Array<{ name: string; version: string; sha256: string }> = []
  for (const name of names) {
    if (journal.state.models[name]) continue
    const store = new ModelStore({ dir: join(models.dir, name), ...(models.fileName ? { fileName: models.fileName } : {}) })
    const st = await store.status().catch(() => undefined)
    const live = st?.current ? st.slots[st.current] : undefined
    if (live) found.push({ name, version: live.version ?? 'provisioned', sha256: live.sha256 })
  }
  if (!found.length) return
  await journal.change((s) => {
    for (const m of found) s.models[m.name] ??= { ...m, securityVersion: 0 }
  })
}
