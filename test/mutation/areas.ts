/**
 * The critical core that mutation testing measures (issue 18), split into areas that
 * can each be run alone. Each area lists the files Stryker mutates and the fast tests
 * that cover them: a mutant is run only against these, never against the slow
 * end-to-end scenarios, so that a kill means a focused test noticed the bug.
 */
export interface MutationArea {
  /** What the area is, for the report. */
  title: string
  /** Files Stryker mutates (globs relative to the repository root). */
  mutate: string[]
  /** The fast tests that cover them; Stryker runs only these. */
  tests: string[]
}

export const areas = {
  verify: {
    title: 'TUF verification and canonical JSON',
    mutate: ['signing/verify/*.ts', '!signing/verify/index.ts', 'signing/canonical-json.ts'],
    // the pure edge tests first (no keys, well under a second), then the signed ones
    tests: [
      'test/signing/verify-options-edges.test.ts',
      'test/signing/canonical-json.test.ts',
      'test/signing/canonical-json-edges.test.ts',
      'test/signing/verify-attacks.test.ts',
      'test/signing/verify-survivors.test.ts',
      'test/signing/threshold-refusals.test.ts',
      'test/signing/envelope-metadata.test.ts',
      'test/signing/verify-documents-edges.test.ts',
    ],
  },
  fleet: {
    title: 'Rollout gate, Wilson bound, cohorts, transitions',
    // rollout-service.ts is measured with rollout-service-edges.test.ts, which drives the
    // service on the embedded SQLite repositories with a fake clock in a few seconds (the
    // PostgreSQL + HTTP scenario fleet-verdicts.test.ts, ~30 s a run, is not run per mutant)
    mutate: [
      'server/domain/rollouts/gate.ts',
      'server/domain/rollouts/wilson.ts',
      'server/domain/rollouts/cohort.ts',
      'server/domain/rollouts/transitions.ts',
      'server/domain/rollouts/rollout-service.ts',
    ],
    tests: ['test/server/rollout-service-edges.test.ts', 'test/server/rollout-service-survivors.test.ts', 'test/server/fleet-gate-edges.test.ts', 'test/server/fleet-gate.test.ts'],
  },
  http: {
    title: 'Byte ranges and route authorization',
    mutate: ['server/http/range.ts', 'server/http/auth.ts'],
    // auth-hooks first: it runs the hooks on fake requests in a second; the route x role
    // matrix starts a server and makes a few hundred requests
    tests: ['test/server/range.test.ts', 'test/server/range-refusals.test.ts', 'test/server/auth-hooks.test.ts', 'test/server/route-roles.test.ts'],
  },
  delta: {
    title: 'Delta apply driver, ops and format (agent side)',
    // ops.ts holds every bound on what an op may read and write (bsdiff-batch.ts its
    // BSDIFF batches: control entries, varints, merged source reads); apply.ts the driver loop,
    // checkpoints and resume; apply-file.ts files, the patch read ring and progress files;
    // image-hasher.ts the op and image hashes, in this thread or on the worker;
    // decode-worker.ts whole ops decoded on the worker;
    // sparse-diff.ts and transpose.ts version 3's diff records and TRANSPOSED op;
    // spool.ts and pull-window.ts the spooled member (codec 3): its file and its windows
    mutate: [
      'client-sdk/src/delta/ops.ts',
      'client-sdk/src/delta/bsdiff-batch.ts',
      'client-sdk/src/delta/format.ts',
      'client-sdk/src/delta/apply.ts',
      'client-sdk/src/delta/apply-file.ts',
      'client-sdk/src/delta/image-hasher.ts',
      'client-sdk/src/delta/decode-worker.ts',
      'client-sdk/src/delta/sparse-diff.ts',
      'client-sdk/src/delta/transpose.ts',
      'client-sdk/src/delta/spool.ts',
      'client-sdk/src/delta/pull-window.ts',
    ],
    // the codec, driver and op-runner edge tests first: a mutant runs its covering files in
    // this order until one fails, and these fail in a second where the apply tests take longer
    tests: [
      'test/client-sdk/delta-format-edges.test.ts',
      'test/client-sdk/delta-sparse-diff.test.ts',
      'test/client-sdk/delta-transposed.test.ts',
      'test/client-sdk/delta-member-edges.test.ts',
      'test/client-sdk/delta-apply-edges.test.ts',
      'test/client-sdk/delta-ops-edges.test.ts',
      'test/client-sdk/delta-ops-survivors.test.ts',
      'test/client-sdk/delta-ops-batches.test.ts',
      'test/client-sdk/delta-apply-file-edges.test.ts',
      'test/client-sdk/delta-apply-survivors.test.ts',
      'test/client-sdk/delta-patch-hash.test.ts',
      'test/client-sdk/delta-hash-worker.test.ts',
      'test/client-sdk/delta-decode-worker.test.ts',
      'test/client-sdk/delta-spool.test.ts',
      'test/client-sdk/delta-puff-stream.test.ts',
      'test/client-sdk/delta-apply.test.ts',
      'test/client-sdk/delta-fuzz.test.ts',
    ],
  },
  agent: {
    title: "The agent's journal, install and boot steps",
    // install-step.ts and boot-step.ts are measured with install-boot-steps.test.ts, which
    // drives both steps in-process (a real journal and file slots on tmpfs, blobs served
    // from memory) in a few seconds; the end-to-end scenarios (update-flow,
    // kill-at-every-step, slot-switch, reverify-after-restart) are not run per mutant
    mutate: ['client-sdk/src/journal/journal.ts', 'client-sdk/src/agent/install-step.ts', 'client-sdk/src/agent/boot-step.ts'],
    tests: ['test/client-sdk/agent/journal.test.ts', 'test/client-sdk/agent/journal-edges.test.ts', 'test/client-sdk/agent/install-boot-steps.test.ts', 'test/client-sdk/agent/install-boot-survivors.test.ts', 'test/client-sdk/agent/failpoint-names.test.ts'],
  },
} satisfies Record<string, MutationArea>

export type AreaName = keyof typeof areas

export const areaNames = Object.keys(areas) as AreaName[]

/** Where each area's incremental report lives; committed so the next run reuses it. */
export const incrementalFile = (area: AreaName) => `test/mutation/reports/${area}.incremental.json`

/** The score each area must keep (issue 18: at least 90 %). */
export const breakScore = 90

/** Whether FILE is one the area mutates (its patterns are exact paths or `dir/*.ts`, with `!` to leave one out). */
export function inArea(area: AreaName, file: string): boolean {
  const matches = (p: string) =>
    p === file || (p.endsWith('/*.ts') && file.endsWith('.ts') && file.slice(0, file.lastIndexOf('/') + 1) === p.slice(0, -4))
  const patterns: readonly string[] = areas[area].mutate
  return patterns.some((p) => !p.startsWith('!') && matches(p)) && !patterns.some((p) => p.startsWith('!') && matches(p.slice(1)))
}
