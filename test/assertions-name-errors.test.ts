/**
 * Every t.rejects / t.throws in the suite names the error it expects (issue 18 §3). A
 * bare `t.rejects(p)` or `t.rejects(p, 'message')` passes for any failure at all, so the
 * test goes on passing when the refusal it was written for is removed and something
 * else happens to throw. tap's types accept both forms, hence this check.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const root = fileURLToPath(new URL('..', import.meta.url))

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) yield* tsFiles(join(dir, e.name))
    else if (e.name.endsWith('.ts')) yield join(dir, e.name)
  }
}

/** The top-level arguments of the call whose `(` is at `open`, as source text (strings and nesting respected). */
function callArguments(src: string, open: number): string[] {
  const args: string[] = []
  let depth = 0
  let start = open + 1
  for (let i = open; i < src.length; i++) {
    const c = src[i]!
    if (c === "'" || c === '"' || c === '`') {
      for (i++; i < src.length && src[i] !== c; i++) if (src[i] === '\\') i++
    } else if (c === '(' || c === '[' || c === '{') depth++
    else if (c === ')' || c === ']' || c === '}') {
      if (--depth === 0) {
        const last = src.slice(start, i).trim()
        if (last) args.push(last)
        return args
      }
    } else if (c === ',' && depth === 1) {
      args.push(src.slice(start, i).trim())
      start = i + 1
    }
  }
  throw new Error(`unbalanced call at ${open}`)
}

/** Absent, or a message string in its place: nothing says which error is meant. */
const namesNoError = (args: string[]) => args[1] === undefined || /^['"`]/.test(args[1])

t.test('callArguments splits a call the way the checks below need', async (t) => {
  const args = (s: string) => callArguments(s, s.indexOf('('))
  t.same(args("t.rejects(f(a, b), { code: 'X' }, 'why, really')"), ['f(a, b)', "{ code: 'X' }", "'why, really'"])
  t.same(args('t.rejects(p)'), ['p'])
  t.same(args("t.throws(() => g(')'), `a ${x}`,\n)"), ["() => g(')')", '`a ${x}`'])
  t.ok(namesNoError(args('t.rejects(p)')), 'bare')
  t.ok(namesNoError(args("t.rejects(p, 'it fails')")), 'a message only')
  t.notOk(namesNoError(args("t.rejects(p, { code: 'X' }, 'it fails')")), 'a code')
  t.notOk(namesNoError(args("t.rejects(p, unavailable, 'ping')")), 'a pattern held in a variable')
})

t.test('no t.rejects or t.throws without the error it expects', async (t) => {
  const weak: string[] = []
  let calls = 0
  for await (const file of tsFiles(join(root, 'test'))) {
    const src = await readFile(file, 'utf8')
    for (const m of src.matchAll(/\bt\d*\.(rejects|throws)\(/g)) {
      if (file === fileURLToPath(import.meta.url)) continue // the examples above
      calls++
      const args = callArguments(src, m.index! + m[0].length - 1)
      if (namesNoError(args)) {
        weak.push(`${relative(root, file)}:${src.slice(0, m.index).split('\n').length}: ${m[0]}${args.join(', ')})`)
      }
    }
  }
  t.ok(calls > 200, `the scan found the suite's assertions (${calls})`)
  t.same(weak, [], 'name the code, e.g. t.rejects(p, { code: "DELTA_TRUNCATED" })')
})
