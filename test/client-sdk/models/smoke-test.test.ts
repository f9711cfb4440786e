import t from 'tap'
import { runSmokeTest } from '../../../client-sdk/src/models/index.js'

const node = (code: string) => [process.execPath, '-e', code]

t.test('passes: exit 0 within the budget, with the output tail and the env', async (t) => {
  const r = await runSmokeTest({ command: node('console.log("tokens/s: 12.5 " + process.env.SLIPWAY_MODEL_PATH)'), timeoutMs: 10_000, latencyBudgetMs: 8_000, env: { SLIPWAY_MODEL_PATH: '/m/current/model.gguf' } })
  t.match(r, { ok: true, exitCode: 0, signal: null })
  t.notOk(r.failure)
  t.equal(r.outputTail, 'tokens/s: 12.5 /m/current/model.gguf\n')
  t.ok(r.durationMs >= 0 && r.durationMs < 8_000)
})

t.test('fails on a non-zero exit, keeping only the tail of stdout and stderr', async (t) => {
  const r = await runSmokeTest({ command: node('process.stdout.write("x".repeat(10000)); console.error("GGML_ASSERT failed"); process.exit(3)'), timeoutMs: 10_000, tailBytes: 100 })
  t.match(r, { ok: false, failure: 'exit-code', exitCode: 3 })
  t.equal(r.outputTail.length, 100)
  t.match(r.outputTail, /GGML_ASSERT failed\n$/)
})

t.test('a hung runner and its children are killed at the timeout', async (t) => {
  // the child spawns a grandchild that would hold the pipes open forever
  const code = 'require("child_process").spawn(process.execPath, ["-e", "setInterval(()=>{},1000)"], { stdio: "inherit" }); console.log("loading"); setInterval(()=>{},1000)'
  const started = Date.now()
  const r = await runSmokeTest({ command: node(code), timeoutMs: 1_500 })
  t.match(r, { ok: false, failure: 'timeout', signal: 'SIGKILL' })
  t.match(r.outputTail, 'loading')
  t.ok(Date.now() - started < 6_000, 'returned soon after the timeout')
})

t.test('exit 0 but slower than the latency budget fails as over-budget', async (t) => {
  const r = await runSmokeTest({ command: node('setTimeout(() => {}, 600)'), timeoutMs: 10_000, latencyBudgetMs: 200 })
  t.match(r, { ok: false, failure: 'over-budget', exitCode: 0 })
  t.ok(r.durationMs > 200)
})

t.test('a command that cannot start is a failed result, not an exception', async (t) => {
  const r = await runSmokeTest({ command: ['/nonexistent/llama-cli'], timeoutMs: 1_000 })
  t.match(r, { ok: false, failure: 'spawn-failed', exitCode: null })
  t.match(r.outputTail, 'ENOENT')
  t.match(await runSmokeTest({ command: [], timeoutMs: 1_000 }), { ok: false, failure: 'spawn-failed' })
})
