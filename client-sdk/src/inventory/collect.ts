/**
 * What the agent reports about the device it runs on (issue 12 §3): OS release,
 * kernel, agent version, the installed Debian packages (as a digest; the list only
 * when the server asks), live models, free space, bootloader kind and TPM presence.
 * Every source is read-only and cheap (dpkg-query takes ~50 ms on a full system).
 */
import { execFile } from 'node:child_process'
import { access, readFile, stat, statfs } from 'node:fs/promises'
import { release } from 'node:os'
import type { AgentConfig } from '../config/agent-config.js'
import type { Journal } from '../journal/journal.js'
import type { SlotAdapter } from '../slots/index.js'
import { packagesDigest, type InventoryPackage, type InventoryReport } from '../wire/index.js'
import { AGENT_VERSION } from './version.js'

const DPKG_QUERY = ['dpkg-query', '-W', '-f=${Package}\\t${Version}\\n']

/** Parses os-release(5): KEY=value lines, values optionally quoted. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim())
    if (!m) continue
    let v = m[2]!
    if (/^(["']).*\1$/.test(v)) v = v.slice(1, -1).replace(/\\(["'\\$`])/g, '$1')
    out[m[1]!] = v
  }
  return out
}

async function osRelease(path: string): Promise<InventoryReport['os']> {
  const text = await readFile(path, 'utf8').catch(() => undefined)
  if (text === undefined) return undefined
  const o = parseOsRelease(text)
  return { ...(o.ID ? { id: o.ID } : {}), ...(o.VERSION_ID ? { versionId: o.VERSION_ID } : {}), ...(o.PRETTY_NAME ? { prettyName: o.PRETTY_NAME } : {}) }
}

/** The package list, or undefined where the command is missing (no dpkg) or disabled. */
function packages(argv: string[] | false): Promise<InventoryPackage[] | undefined> {
  if (argv === false || !argv.length) return Promise.resolve(undefined)
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (err, stdout) => {
      if (err) return resolve(undefined)
      const list: InventoryPackage[] = []
      for (const line of stdout.split('\n')) {
        const [name, version] = line.split('\t')
        if (name && version) list.push({ name, version })
      }
      resolve(list)
    })
  })
}

async function free(name: string, path: string): Promise<InventoryReport['storage'][number] | undefined> {
  try {
    const s = await statfs(path)
    return { name, freeBytes: Number(s.bavail) * Number(s.bsize), totalBytes: Number(s.blocks) * Number(s.bsize) }
  } catch {
    return undefined
  }
}

/** Free space: the data partition, each slot held in a file (a partition slot has no free space of its own: the root's is reported), the models folder. */
async function storage(config: AgentConfig, slots: SlotAdapter): Promise<InventoryReport['storage']> {
  const out = [await free('data', config.dataDir)]
  let partitions = false
  for (const s of ['a', 'b'] as const) {
    const path = slots.slotPath(s)
    const st = await stat(path).catch(() => undefined)
    if (st?.isFile()) out.push(await free(`slot-${s}`, path))
    else if (st) partitions = true // a partition (or other device): the root's free space stands for it
  }
  if (partitions) out.push(await free('root', '/'))
  if (config.models) out.push(await free('models', config.models.dir))
  return out.filter((x): x is NonNullable<typeof x> => x !== undefined)
}

export interface CollectedInventory {
  report: InventoryReport
  /** the package list behind `report.packages.digest` (sent only when the server asks) */
  packageList?: InventoryPackage[]
}

export async function collectInventory(config: AgentConfig, journal: Journal, slots: SlotAdapter): Promise<CollectedInventory> {
  const opts = config.inventory ?? {}
  const [os, list, space, tpmDevice] = await Promise.all([
    osRelease(opts.osReleasePath ?? '/etc/os-release'),
    packages(opts.packagesCommand ?? DPKG_QUERY),
    storage(config, slots),
    access(opts.tpmDevice ?? '/dev/tpmrm0').then(
      () => true,
      () => false,
    ),
  ])
  const models = Object.values(journal.state.models)
    .map((m) => ({ name: m.name, version: m.version, sha256: m.sha256 }))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
  const report: InventoryReport = {
    ...(os ? { os } : {}),
    kernel: opts.kernel ?? release(),
    agentVersion: AGENT_VERSION,
    ...(list ? { packages: { digest: packagesDigest(list), count: list.length } } : {}),
    models,
    storage: space,
    bootloader: slots.kind,
    tpm: opts.tpm ?? (config.tpm !== undefined || tpmDevice),
  }
  return { report, ...(list ? { packageList: list } : {}) }
}
