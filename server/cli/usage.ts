/**
 * Usage of each command, for `--help` / `-h` anywhere after it: printed on stdout,
 * exit 0, before the command runs (so `slipway start --help` starts nothing).
 * test/server/cli-help.test.ts walks this table.
 */
export const COMMAND_USAGE: Record<string, () => Promise<string>> = {
  start: async () => 'usage: slipway start\n  run the API server (configuration from the environment; see the README)',
  worker: async () => 'usage: slipway worker\n  run job workers against REDIS_URL',
  migrate: async () => 'usage: slipway migrate\n  apply database migrations and exit',
  token: async () => (await import('./token.js')).USAGE,
  push: async () => (await import('./push.js')).USAGE,
  keys: async () => (await import('./keys.js')).USAGE,
  release: async () => (await import('./release.js')).USAGE,
  delta: async () => (await import('./delta.js')).USAGE,
  rollout: async () => (await import('./rollout.js')).ROLLOUT_USAGE,
  device: async () => (await import('./device.js')).DEVICE_USAGE,
  'enroll-token': async () => (await import('./enroll-token.js')).ENROLL_TOKEN_USAGE,
  audit: async () => (await import('./audit.js')).AUDIT_USAGE,
}


/** Subcommands per command, for tests and `--help` listings. */
export const SUBCOMMANDS: Record<string, string[]> = {
  token: ['create', 'list', 'revoke'],
  keys: ['create-root', 'add-release-key', 'revoke-release-key', 'set-threshold', 'rotate-online', 'show', 'generate', 'install-root'],
  release: ['sign', 'verify'],
  delta: ['make'],
  rollout: ['create', 'list', 'show', 'start', 'pause', 'resume', 'promote', 'abort', 'rollback'],
  device: ['list', 'show', 'explain'],
  'enroll-token': ['create', 'list', 'revoke'],
  audit: ['verify'],
}
