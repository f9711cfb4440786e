/**
 * `slipway release sign|verify`: CI signs release metadata with its release key
 * (file or PKCS#11); anyone checks a release offline against a root chain and,
 * optionally, the artifact bytes. No server is involved in either.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { canonicalWire } from '../../signing/canonical-json.js'
import { signRelease, TrustError, verifyReleaseOffline } from '../../signing/index.js'
import { parse, required, UsageError } from './args.js'
import { openSigners } from './key-spec.js'
import { artifactFile, RELEASE_OPTIONS, RELEASE_USAGE, releaseFlags, releaseOf, sha256File } from './release-fields.js'
import { readChain, readRootFile } from './root-chain.js'
import type { CliEnv } from './http-client.js'
import { listReleases, RELEASE_VIEW_USAGE, showRelease } from './release-view.js'
import { RELEASE_POLICY_USAGE, releasePolicy } from './release-policy.js'

export const USAGE = `usage:
  slipway release sign ARTIFACT ${RELEASE_USAGE}
                    --key KEY [--key KEY…] --out FILE.json [--expires-days N]
  slipway release verify FILE.json (--chain DIR | --root 1.root.json [--root 2.root.json…]) [--artifact ARTIFACT]
${RELEASE_VIEW_USAGE}
${RELEASE_POLICY_USAGE}

KEY is a PEM private key file or pkcs11:token=<label>;object=<key label> (PKCS11_MODULE, PKCS11_PIN).`

export async function releaseCommand(argv: string[], env: () => CliEnv): Promise<void> {
  const [sub, ...rest] = argv
  if (sub === 'list') return listReleases(env(), rest)
  if (sub === 'show') return showRelease(env(), rest)
  if (sub === 'policy') return releasePolicy(env(), rest)
  if (sub === undefined || sub === 'help' || sub === '--help') return void process.stdout.write(`${USAGE}\n`)
  const { values: v, positionals } = parse(
    argv,
    { ...RELEASE_OPTIONS, key: { type: 'string', multiple: true }, out: { type: 'string' }, 'expires-days': { type: 'string' }, chain: { type: 'string' }, root: { type: 'string', multiple: true }, artifact: { type: 'string' } },
    USAGE,
  )
  const [action, file] = positionals
  if (action === 'sign') {
    const artifact = required(file, 'ARTIFACT', USAGE)
    const flags = releaseFlags(v, USAGE)
    const outFile = required(v.out, '--out', USAGE)
    const keys = v.key ?? []
    if (keys.length === 0) throw new UsageError(`--key is required\n\n${USAGE}`)
    const days = v['expires-days'] === undefined ? undefined : Number(v['expires-days'])
    if (days !== undefined && (!Number.isInteger(days) || days < 1)) throw new UsageError('--expires-days must be a whole number of days')
    const { size } = await artifactFile(artifact)
    const release = releaseOf(flags, { sha256: await sha256File(artifact), length: size })
    const { signers, close } = await openSigners(keys)
    try {
      const expires = days === undefined ? undefined : new Date(Date.now() + days * 86400_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
      const bytes = await signRelease(release, signers, expires ? { expires } : {})
      await writeFile(outFile, bytes)
      process.stderr.write(`signed ${release.name} ${release.version} (${release.sha256}) with ${signers.map((s) => s.keyId).join(', ')}\n`)
      process.stdout.write(`${JSON.stringify({ file: outFile, name: release.name, version: release.version, sha256: release.sha256, keyIds: signers.map((s) => s.keyId) })}\n`)
    } finally {
      await close()
    }
    return
  }
  if (action === 'verify') {
    const metadata = await readFile(required(file, 'FILE.json', USAGE)).catch(() => {
      throw new UsageError(`cannot read ${file}`)
    })
    const chain = v.chain ? await readChain(v.chain) : await Promise.all((v.root ?? []).map(readRootFile))
    if (chain.length === 0) throw new UsageError(`--chain or --root is required\n\n${USAGE}`)
    // Any JSON spelling of the envelope will do (an API answer saved with jq, say): the
    // signatures cover the canonical form of its `signed` part, which is what is checked.
    let parsed: unknown
    try {
      parsed = JSON.parse(metadata.toString('utf8'))
    } catch (e) {
      throw new TrustError('DOC_MALFORMED', `${file} is not JSON: ${(e as Error).message}`)
    }
    const r = await verifyReleaseOffline(chain, Buffer.from(canonicalWire(parsed), 'utf8'), v.artifact ? { artifactPath: v.artifact } : {})
    process.stderr.write(`OK: ${r.release.name} ${r.release.version} is signed by the release role of root v${r.rootVersion}${r.artifactChecked ? ', and the artifact matches' : ''}\n`)
    process.stdout.write(`${JSON.stringify({ ok: true, ...r })}\n`)
    return
  }
  throw new UsageError(USAGE)
}
