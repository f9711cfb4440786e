/**
 * Every job name, in one place: what services enqueue (deltas, rollouts) and what the
 * processors in server/workers/ handle. A name is a contract between processes: a
 * server and a `slipway worker` of different versions must agree on it.
 */
export const JOBS = {
  /** staged uploads past their expiry are reclaimed (every 15 minutes) */
  reclaimUploads: 'reclaim-uploads',
  /** data: { sourceSha256, targetSha256 }; one job per content pair */
  buildDelta: 'build-delta',
  /** data: { releaseId }; requests deltas from the fleet's top installed versions */
  planDeltas: 'plan-deltas',
  /** data: { rolloutId }; coalesced per rollout (evaluate-soon.ts) */
  evaluateRollout: 'evaluate-rollout',
  /** every running rollout, for soak times and silent deadlines that pass without a report */
  rolloutsTick: 'rollouts-tick',
  /** download-ledger rows that left every budget window */
  pruneDownloads: 'prune-downloads',
} as const

export type JobName = (typeof JOBS)[keyof typeof JOBS]
