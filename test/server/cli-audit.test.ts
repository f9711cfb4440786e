/**
 * `slipway audit verify`: passes on the honest log (also across pages), then the log is
 * tampered with directly in the server's SQLite file — a reason changed, an entry
 * deleted, the last entry cut off — and verify must fail naming the entry, or, for the
 * truncation a chain alone cannot see, through --expect-head.
 */
import Database from 'better-sqlite3'
import { join } from 'node:path'
import t from 'tap'
import { call } from '../helpers/api.js'
import { slipway } from '../helpers/cli.js'
import { publish } from '../helpers/fleet.js'
import { startServer } from '../helpers/server.js'

t.test('audit verify', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const env = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: op }
  const run = (...args: string[]) => slipway(args, env).done
  await publish(srv, { version: '1.1.0' })

  const empty = await run('audit', 'verify')
  t.equal(empty.code, 0, empty.stderr)
  t.match(empty.stdout, /OK: 0 entries verify\nhead: 0{64} \(entry 0\)/)

  // 6 honest entries: create, start, pause, resume, abort, a token
  const ro = await call(srv, op, 'POST', '/v1/rollouts', { release: 'rootfs@1.1.0', phases: [{ percent: 50 }, { percent: 100 }], allowEmpty: true, start: true, reason: 'ship it' })
  t.equal(ro.status, 201)
  const id = ro.json.rollout.id
  for (const a of ['pause', 'resume', 'abort']) t.equal((await call(srv, op, 'POST', `/v1/rollouts/${id}/${a}`, { reason: `${a} for the test` })).status, 200)
  t.equal((await call(srv, op, 'POST', '/v1/enrollment-tokens', { group: 'g', maxUses: 1, ttlSeconds: 600 })).status, 201)

  const ok = await run('audit', 'verify')
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /^OK: 6 entries verify$/m)
  const head = /^head: ([0-9a-f]{64}) \(entry 6\)$/m.exec(ok.stdout)?.[1]
  t.ok(head, 'the head hash is printed for anchoring')
  const paged = await run('audit', 'verify', '--page', '2')
  t.equal(paged.code, 0, paged.stderr)
  t.match(paged.stdout, `head: ${head} (entry 6)`, 'the same verdict across pages of 2')
  const anchored = await run('audit', 'verify', '--expect-head', head!)
  t.equal(anchored.code, 0, anchored.stderr)
  t.match(anchored.stdout, /expected head is entry 6 \(the current head\)/)

  // the log grows: the old anchor still holds
  t.equal((await call(srv, op, 'POST', '/v1/enrollment-tokens', { group: 'g', maxUses: 1, ttlSeconds: 600 })).status, 201)
  const grown = await run('audit', 'verify', '--expect-head', head!)
  t.equal(grown.code, 0, grown.stderr)
  t.match(grown.stdout, /expected head is entry 6; 1 entries appended since/)
  const other = await run('audit', 'verify', '--expect-head', 'ab'.repeat(32))
  t.equal(other.code, 1)
  t.match(other.stderr, /^error: AUDIT_HEAD_MISMATCH: no entry of the log has the expected head abab/m)
  const notHex = await run('audit', 'verify', '--expect-head', 'xyz')
  t.equal(notHex.code, 64)

  // tamper in the database file, behind the server's back
  const db = new Database(join(srv.config.dataDir, 'slipway.db'))
  t.teardown(() => db.close())
  const row = (seq: number) => db.prepare('SELECT * FROM audit_log WHERE seq = ?').get(seq) as Record<string, unknown>

  const original = row(3)
  t.equal(original.reason, 'pause for the test')
  db.prepare('UPDATE audit_log SET reason = ? WHERE seq = 3').run('nothing happened here')
  const altered = await run('audit', 'verify')
  t.equal(altered.code, 1)
  t.match(altered.stderr, /^error: AUDIT_CHAIN_BROKEN: entry 3 was altered \(hash mismatch\); the chain verifies up to entry 2/m)
  const alteredPaged = await run('audit', 'verify', '--page', '2')
  t.match(alteredPaged.stderr, /entry 3 was altered/, 'found on a later page too')
  db.prepare('UPDATE audit_log SET reason = ? WHERE seq = 3').run(original.reason)
  t.equal((await run('audit', 'verify')).code, 0, 'verifies again once restored')

  // a forger who also recomputes the entry's own hash still breaks the link to the next one
  const honest2 = row(2)
  db.prepare('UPDATE audit_log SET after_state = ? WHERE seq = 2').run(JSON.stringify({ state: 'draft', phase: 0, version: 2 }))
  const { entryHash } = await import('../../server/domain/audit-chain.js')
  const r2 = row(2)
  const rehashed = entryHash({ seq: 2, at: r2.at as string, actor: r2.actor as string, action: r2.action as string, subject: r2.subject as string, reason: r2.reason as string | null, before: JSON.parse(r2.before_state as string), after: JSON.parse(r2.after_state as string), prevHash: r2.prev_hash as string })
  db.prepare('UPDATE audit_log SET hash = ? WHERE seq = 2').run(rehashed)
  const relinked = await run('audit', 'verify')
  t.equal(relinked.code, 1)
  t.match(relinked.stderr, /AUDIT_CHAIN_BROKEN: entry 3 does not link to entry 2/)
  db.prepare('UPDATE audit_log SET after_state = ?, hash = ? WHERE seq = 2').run(honest2.after_state, honest2.hash)
  t.equal((await run('audit', 'verify')).code, 0, 'verifies again once restored')

  // an entry deleted from the middle
  db.prepare('DELETE FROM audit_log WHERE seq = 4').run()
  const deleted = await run('audit', 'verify')
  t.equal(deleted.code, 1)
  t.match(deleted.stderr, /^error: AUDIT_CHAIN_BROKEN: entry 4 is missing \(next is 5\); the chain verifies up to entry 3/m)
})

t.test('a log cut off at its end verifies as a chain, but not against an anchored head', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.close())
  const op = await srv.token('operator')
  const env = { SLIPWAY_URL: srv.url, SLIPWAY_TOKEN: op }
  for (let i = 0; i < 3; i++) t.equal((await call(srv, op, 'POST', '/v1/enrollment-tokens', { group: 'g', maxUses: 1, ttlSeconds: 600 })).status, 201)
  const first = await slipway(['audit', 'verify'], env).done
  const head = /^head: ([0-9a-f]{64})/m.exec(first.stdout)![1]!
  const db = new Database(join(srv.config.dataDir, 'slipway.db'))
  t.teardown(() => db.close())
  db.prepare('DELETE FROM audit_log WHERE seq = 3').run()
  const plain = await slipway(['audit', 'verify'], env).done
  t.equal(plain.code, 0, 'a truncated chain is still a valid chain')
  t.match(plain.stdout, /OK: 2 entries verify/)
  const cut = await slipway(['audit', 'verify', '--expect-head', head], env).done
  t.equal(cut.code, 1)
  t.match(cut.stderr, new RegExp(`AUDIT_HEAD_MISMATCH: no entry of the log has the expected head ${head}.*current head: entry 2`))
})
