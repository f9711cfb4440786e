/**
 * The device agent imports `signing/verify/index.js`; everything it reaches must be
 * Node built-ins or our own files: no pkcs11js, no node-forge, no npm package.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

function walk(file: string, seen: Set<string>, external: Set<string>): void {
  if (seen.has(file)) return
  seen.add(file)
  const src = readFileSync(file, 'utf8')
  for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = (m[1] ?? m[2]) as string
    if (spec.startsWith('.')) walk(join(dirname(file), spec.replace(/\.js$/, '.ts')), seen, external)
    else external.add(spec)
  }
}

t.test('verify/index.ts reaches only node: built-ins', async (t) => {
  const seen = new Set<string>()
  const external = new Set<string>()
  walk(join(root, 'signing/verify/index.ts'), seen, external)
  t.ok(seen.size > 10, `walked ${seen.size} files`)
  t.same([...external].filter((s) => !s.startsWith('node:')), [], 'no package imports')
  t.notOk([...seen].some((f) => /pkcs11|certificate|forge/.test(f)), 'no PKCS#11 or certificate code')
})

t.test('TPM key attestation (signing/attestation, shared with the agent) reaches only node: built-ins', async (t) => {
  for (const entry of ['signing/attestation/index.ts', 'client-sdk/src/identity/tpm-attest.ts', 'client-sdk/src/identity/tpm-key.ts']) {
    const seen = new Set<string>()
    const external = new Set<string>()
    walk(join(root, entry), seen, external)
    t.ok(seen.size >= 3, `${entry}: walked ${seen.size} files`)
    t.same([...external].filter((s) => !s.startsWith('node:')), [], `${entry}: no package imports`)
  }
})
