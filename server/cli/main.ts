/** `slipway` entry: dispatches to a subcommand; every failure exits non-zero with its code. */
import { ConfigError, loadConfig } from '../config.js'
import { isTrustError } from '../../signing/verify/index.js'
import { SlipwayError } from '../domain/errors.js'
import { CliFailure, UsageError } from './args.js'
import { ApiError, cliEnv } from './http-client.js'
import { COMMAND_USAGE } from './usage.js'

const HELP = `slipway — signed OTA updates and rollouts

  slipway start                 run the API server (embedded defaults, or the scale-out env)
  slipway worker                run job workers (with REDIS_URL)
  slipway migrate               apply database migrations and exit
  slipway token create|list|revoke   manage API tokens on the server host
  slipway backup DIR | restore DIR   embedded: database (online), blobs, keys (scale-out: README)
  slipway push FILE --name N --version V --kind os-image|model --hardware HW --key KEY
                                sign and publish a release (SLIPWAY_URL, SLIPWAY_TOKEN, SLIPWAY_RELEASE_KEY)
  slipway keys create-root|add-release-key|revoke-release-key|set-threshold|rotate-online|show|generate
                                the key ceremony, on a root chain folder (no server needed)
  slipway keys install-root FILE…   publish root versions to the server's database
  slipway release sign|verify   CI signs release metadata; anyone verifies a release offline
  slipway release list [--name N] | show NAME@VERSION [--metadata FILE]
                                releases on the server: sizes, provenance, signers, deltas
  slipway release policy NAME [--require F,F…]   signed provenance fields a push of NAME must carry
  slipway delta make OLD NEW PATCH [--memory-budget BYTES] [--format 2]
                                build a delta locally with the server's builder (size, time, peak RSS)
  slipway delta request NAME@FROM NAME@TO | list [--state S] [--to NAME@V] | show ID
                                deltas the server builds

Fleet and rollouts (SLIPWAY_URL, SLIPWAY_TOKEN: an operator or admin token; --json for the API's JSON):
  slipway rollout create --release NAME@VERSION --phases 1,10,50,100 --reason TEXT [--min-devices N,…]
        [--soak S,…] [--max-failure-rate R] [--min-sample N] [--max-failures N] [--silent-after S]
        [--metric 'NAME<800' | 'NAME<1.2x'] [--selector hardware=H,group=G,tag=T,saved-group=NAME] [--breach pause|rollback]
        [--gate strict|standard|small-canary] [--allow-empty] [--id RESERVED-ID] [--dry-run] [--start]
  slipway rollout list | show ID | start|pause|resume|promote|abort|rollback ID --reason TEXT
  slipway device list [--group G] [--tag T] [--state S] [--version NAME[@V]] | show ID | explain ID
  slipway device set ID [--group G] [--add-tag T] [--remove-tag T] --reason TEXT | bulk-update --selector … --reason TEXT
  slipway device-group list | show NAME | save NAME --selector … --reason TEXT | delete NAME --reason TEXT
  slipway enroll-token create --group G --uses N --ttl SECONDS | list | revoke ID
  slipway audit verify [--expect-head HASH]   recompute the audit hash chain; prints the head to anchor

Configuration is read from the environment; see the README.`

async function run(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  // `rollout create` has its own, longer usage (every gate and phase flag)
  const usage =
    command === 'rollout' && rest[0] === 'create'
      ? async () => (await import('./rollout-flags.js')).CREATE_USAGE
      : command === undefined
        ? undefined
        : COMMAND_USAGE[command]
  if (usage && (rest.includes('--help') || rest.includes('-h') || rest[0] === 'help')) {
    process.stdout.write(`${await usage()}\n`)
    return
  }
  switch (command) {
    case 'start':
      return (await import('./start.js')).startServer(loadConfig())
    case 'worker':
      return (await import('./worker.js')).runWorker(loadConfig())
    case 'migrate': {
      const config = loadConfig()
      const { connectDatabase, migrateToLatest } = await import('../adapters/db/index.js')
      const { db } = connectDatabase({ databaseUrl: config.databaseUrl, sqlitePath: `${config.dataDir}/slipway.db` })
      try {
        const { applied } = await migrateToLatest(db)
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n')
      } finally {
        await db.destroy()
      }
      return
    }
    case 'token':
      return (await import('./token.js')).tokenCommand(loadConfig(), rest)
    case 'backup':
      return (await import('./backup.js')).backupCommand(loadConfig(), rest)
    case 'restore':
      return (await import('./backup.js')).restoreCommand(loadConfig(), rest)
    case 'push':
      return (await import('./push.js')).pushCommand(cliEnv(), rest)
    case 'keys':
      return (await import('./keys.js')).keysCommand(() => loadConfig(), rest)
    case 'release':
      return (await import('./release.js')).releaseCommand(rest, () => cliEnv())
    case 'delta':
      return (await import('./delta.js')).deltaCommand(rest, () => cliEnv())
    case 'rollout':
      return (await import('./rollout.js')).rolloutCommand(() => cliEnv(), rest)
    case 'device':
      return (await import('./device.js')).deviceCommand(() => cliEnv(), rest)
    case 'device-group':
      return (await import('./device-manage.js')).deviceGroupCommand(() => cliEnv(), rest)
    case 'enroll-token':
      return (await import('./enroll-token.js')).enrollTokenCommand(() => cliEnv(), rest)
    case 'audit':
      return (await import('./audit.js')).auditCommand(() => cliEnv(), rest)
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${HELP}\n`)
      return
    default:
      throw new UsageError(`unknown command "${command}"\n\n${HELP}`)
  }
}

run(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof UsageError) process.stderr.write(`${e.message}\n`)
  else if (e instanceof ConfigError) process.stderr.write(`configuration error: ${e.message}\n`)
  else if (e instanceof ApiError) process.stderr.write(`error: ${e.message}\n`)
  else if (e instanceof CliFailure) process.stderr.write(`error: ${e.code}: ${e.message}\n`)
  // trust and start-up failures carry a stable code an operator can look up (signing/README.md)
  else if (e instanceof SlipwayError || isTrustError(e)) process.stderr.write(`error: ${e.code}: ${e.message}\n`)
  // the delta builder's errors (DELTA_BUILD_INPUT, …), without loading the builder for every command
  else if (e instanceof Error && e.name === 'DeltaBuildError') process.stderr.write(`error: ${(e as Error & { code: string }).code}: ${e.message}\n`)
  else process.stderr.write(`error: ${process.env.DEBUG ? ((e as Error)?.stack ?? String(e)) : ((e as Error)?.message ?? String(e))}\n`)
  process.exitCode = e instanceof UsageError ? 64 : 1
})
