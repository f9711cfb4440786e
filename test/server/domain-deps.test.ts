/**
 * `server/domain` is the core (DESIGN.md, STYLE.md §1): everything it reaches must be
 * Node built-ins or our own framework-free files. From any file under server/domain, an
 * import may name `node:*`, another domain file, the signing library (`signing/`), or the
 * wire contract the agent shares (`client-sdk/src/wire/`); never Fastify, Redis, S3, a SQL
 * driver or any other npm package, and never the server's adapters, http or workers.
 * Walked transitively, type-only imports included, so a vendor reached through
 * `signing/` or the wire module fails too.
 */
import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const DOMAIN = 'server/domain/'
/** Where a domain file's relative imports may lead, besides the domain itself. */
const VOCABULARY = ['signing/', 'client-sdk/src/wire/']

const walkDir = (d: string, out: string[] = []): string[] => {
  for (const e of readdirSync(d)) {
    const p = join(d, e)
    if (statSync(p).isDirectory()) walkDir(p, out)
    else if (p.endsWith('.ts')) out.push(p)
  }
  return out
}

const specifiers = (src: string): string[] =>
  [...src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)].map(
    (m) => (m[1] ?? m[2] ?? m[3]) as string,
  )

/** Every import reachable from `entries` that breaks the rule, as `file: specifier`. */
function violations(entries: string[]): { seen: Set<string>; bad: string[] } {
  const seen = new Set<string>()
  const bad: string[] = []
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const from = relative(root, file)
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('node:')) continue
      if (!spec.startsWith('.')) {
        bad.push(`${from}: '${spec}' (a package)`)
        continue
      }
      const target = join(dirname(file), spec.replace(/\.js$/, '.ts'))
      const to = relative(root, target)
      if (!to.startsWith(DOMAIN) && !VOCABULARY.some((v) => to.startsWith(v))) {
        bad.push(`${from}: '${spec}' (outside the domain: ${to})`)
        continue
      }
      visit(target)
    }
  }
  for (const e of entries) visit(e)
  return { seen, bad }
}

t.test('server/domain reaches only node: built-ins, its own files, signing/ and the wire contract', async (t) => {
  const entries = walkDir(join(root, DOMAIN))
  t.ok(entries.length >= 40, `${entries.length} domain files`)
  const { seen, bad } = violations(entries)
  t.ok(seen.size >= entries.length, `walked ${seen.size} files`)
  t.same(bad, [], 'no package, adapter, http or worker import')
})

/** Names imported from the domain by code outside it (http, adapters, workers, cli, container…, the demo); tests aside. */
function namesUsedOutside(): Map<string, string> {
  const used = new Map<string, string>()
  for (const file of [...walkDir(join(root, 'server')), ...walkDir(join(root, 'demo'))]) {
    const from = relative(root, file)
    if (from.startsWith(DOMAIN)) continue
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:import|export)\s+(?:type\s+)?\{([^}]*)\}\s*from\s+'(\.[^']+)'/g)) {
      const to = relative(root, join(dirname(file), (m[2] as string).replace(/\.js$/, '.ts')))
      if (!to.startsWith(DOMAIN)) continue
      for (const spec of (m[1] as string).split(',')) {
        const name = spec.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]
        if (name) used.set(name, `${from} (from ${to})`)
      }
    }
  }
  return used
}

t.test('server/domain/index.ts exports what the rest of the server uses from the domain, and only that', async (t) => {
  const index = readFileSync(join(root, DOMAIN, 'index.ts'), 'utf8')
  const exported = new Set([...index.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)].flatMap((m) => (m[1] as string).split(',').map((s) => s.trim()).filter(Boolean)))
  const used = namesUsedOutside()
  t.ok(used.size > 50, `${used.size} names used outside the domain`)
  t.same([...used].filter(([name]) => !exported.has(name)).map(([name, where]) => `${name}: ${where}`), [], 'each is in index.ts')
  t.same([...exported].filter((name) => !used.has(name)), [], 'index.ts exports nothing unused outside the domain')
})

t.test('the walk would notice a vendor or an adapter import', async (t) => {
  t.same(specifiers("import semver from 'semver'\nimport type { FastifyInstance } from 'fastify'"), ['semver', 'fastify'])
  t.same(specifiers("export { x } from './y.js'\nconst m = await import('pg')\nimport 'reflect-metadata'"), ['./y.js', 'pg', 'reflect-metadata'])
  // an http file walked as if it were an entry: its fastify import is reported
  const { bad } = violations([join(root, 'server/http/ops/ops.ts')])
  t.ok(bad.some((b) => b.includes("'fastify' (a package)")), 'a package import is reported')
  t.ok(bad.some((b) => b.includes('outside the domain: server/')), 'an import leaving the domain is reported')
})
