/**
 * `slipway keys …`: the key ceremony (signing/ceremony), on a root chain folder.
 * Every change is published as root version N+1, signed by the `--sign` keys (a
 * threshold of version N's root keys AND of N+1's), and checked exactly as a device
 * will check it before the file is written. `install-root` then makes the server
 * serve it and check pushes against it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  addReleaseKey, changeRootKeys, changeThresholds, createRoot, decodeEnvelope, encodeEnvelope, proposeRootUpdate, publishRoot, revokeReleaseKey, rotateOnlineKey, rotateRoot,
  keyIdOf, ROLE_NAMES, signRoot, type Envelope, type RoleName, type RootChange, type RootSigned, type Signer,
} from '../../signing/index.js'
import { openRepositories } from '../adapters/db/index.js'
import type { Config } from '../config.js'
import { TrustService } from '../domain/trust/trust-service.js'
import { parse, required, UsageError } from './args.js'
import { generateKey, keyType, openSigners, publicKeyOf } from './key-spec.js'
import { readChain, readRootFile, writeRoot } from './root-chain.js'

export const USAGE = `usage:
  slipway keys generate KEY [--type ed25519|ecdsa]          new file key (mode 0600) or token key; prints its public key
  slipway keys public KEY                                   a key's public key (stdout, PUBLIC.json form) and keyid (stderr)
  slipway keys create-root --keys N --threshold M --out DIR [--type ed25519|ecdsa] [--pkcs11-token LABEL]
                           [--release-key KEY] [--online-key KEY]
  slipway keys add-release-key    --chain DIR --key KEY|PUBLIC.json --sign KEY [--sign KEY…]
  slipway keys revoke-release-key --chain DIR --key-id KEYID        --sign KEY [--sign KEY…]
  slipway keys set-threshold      --chain DIR --role root|release|online --threshold N --sign KEY [--sign KEY…]
  slipway keys rotate-online      --chain DIR --key KEY|PUBLIC.json --sign KEY [--sign KEY…]
  slipway keys change-root-keys   --chain DIR [--add KEY|PUBLIC.json…] [--remove KEYID…] [--threshold N] --sign KEY…
  slipway keys show               --chain DIR
      any change above with --draft FILE instead of (all) --sign: write a proposal that
      key holders sign on their own machines, then publish it:
  slipway keys sign-draft FILE --sign KEY [--sign KEY…]
  slipway keys publish FILE --chain DIR
  slipway keys install-root FILE [FILE…]                    on the server host: publish root versions, in order

KEY is a PEM private key file, or pkcs11:token=<token label>;object=<key label> with
PKCS11_MODULE and PKCS11_PIN (or PKCS11_PIN_FILE) set. --sign names root key holders:
a change needs a threshold of the current root keys and of the new root's.`

const OPTIONS = {
  type: { type: 'string' },
  keys: { type: 'string' },
  threshold: { type: 'string' },
  out: { type: 'string' },
  'pkcs11-token': { type: 'string' },
  'release-key': { type: 'string' },
  'online-key': { type: 'string' },
  chain: { type: 'string' },
  key: { type: 'string' },
  'key-id': { type: 'string' },
  role: { type: 'string' },
  sign: { type: 'string', multiple: true },
  draft: { type: 'string' },
  add: { type: 'string', multiple: true },
  remove: { type: 'string', multiple: true },
} as const

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : string }

function count(v: string | undefined, flag: string, min = 1): number {
  const n = Number(required(v, flag, USAGE))
  if (!Number.isInteger(n) || n < min || n > 64) throw new UsageError(`${flag} must be a whole number from ${min} to 64`)
  return n
}

const out = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`)

/** A root version summary for the terminal: roles, thresholds, keyids. */
function summary(bytes: Uint8Array) {
  const signed = decodeEnvelope(bytes, 1 << 20).signed as unknown as RootSigned
  return {
    version: signed.version,
    expires: signed.expires,
    roles: Object.fromEntries(ROLE_NAMES.map((r) => [r, { threshold: signed.roles[r].threshold, keyids: signed.roles[r].keyids }])),
  }
}

async function createRootCommand(v: Values): Promise<void> {
  const n = count(v.keys, '--keys')
  const threshold = count(v.threshold, '--threshold')
  if (threshold > n) throw new UsageError(`--threshold ${threshold} is more than --keys ${n}`)
  const dir = required(v.out, '--out', USAGE)
  const type = keyType(v.type)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const token = v['pkcs11-token']
  const rootSpecs = Array.from({ length: n }, (_, i) => (token ? `pkcs11:token=${encodeURIComponent(token)};object=root-${i + 1}` : join(dir, `root-${i + 1}.pem`)))
  const roots: Signer[] = []
  try {
    for (const spec of rootSpecs) roots.push(await generateKey(spec, type))
    const releaseSpec = v['release-key'] ?? join(dir, 'release-1.pem')
    const onlineSpec = v['online-key'] ?? join(dir, 'online.pem')
    const release = v['release-key'] ? await publicKeyOf(releaseSpec) : (await generateKey(releaseSpec, type)).publicKey
    const online = v['online-key'] ? await publicKeyOf(onlineSpec) : (await generateKey(onlineSpec, type)).publicKey
    const bytes = await createRoot(
      { roles: { root: { keys: roots.map((r) => r.publicKey), threshold }, release: { keys: [release], threshold: 1 }, online: { keys: [online], threshold: 1 } } },
      roots,
    )
    const file = await writeRoot(dir, 1, bytes)
    process.stderr.write(`root v1 written to ${file}; root keys: ${rootSpecs.join(', ')}; release key: ${releaseSpec}; online key: ${onlineSpec}\n`)
    out({ file, rootKeys: rootSpecs, releaseKey: releaseSpec, onlineKey: onlineSpec, ...summary(bytes) })
  } finally {
    for (const r of roots) await (r as { close?: () => Promise<void> }).close?.()
  }
}

/**
 * Apply `change` to the newest root of `--chain`, sign with `--sign`, write N+1.
 * With `--draft FILE`, write the (partly) signed proposal instead, for key holders
 * who sign on their own machines (`sign-draft`), then `publish`.
 */
async function publishChange(v: Values, change: () => Promise<RootChange>): Promise<void> {
  const dir = required(v.chain, '--chain', USAGE)
  const specs = v.sign ?? []
  if (specs.length === 0 && !v.draft) throw new UsageError(`--sign is required: the root key holders that approve the change (or --draft FILE)\n\n${USAGE}`)
  const chain = await readChain(dir)
  const current = chain.at(-1) as Buffer
  const { signers, close } = await openSigners(specs)
  try {
    if (v.draft) {
      const draft = await signRoot(proposeRootUpdate(current, await change()), signers)
      await writeFile(v.draft, encodeEnvelope(draft), { flag: 'wx' })
      process.stderr.write(`draft of root v${draft.signed.version} written to ${v.draft} with ${draft.signatures.length} signature(s); next: slipway keys sign-draft ${v.draft} --sign KEY, then slipway keys publish ${v.draft} --chain ${dir}\n`)
      return out({ draft: v.draft, version: draft.signed.version, signatures: draft.signatures.map((x) => x.keyid) })
    }
    await writePublished(dir, await rotateRoot(current, await change(), signers))
  } finally {
    await close()
  }
}

async function writePublished(dir: string, bytes: Buffer): Promise<void> {
  const s = summary(bytes)
  const file = await writeRoot(dir, s.version, bytes)
  process.stderr.write(`root v${s.version} written to ${file}; publish it with: slipway keys install-root ${file}\n`)
  out({ file, ...s })
}

const readDraft = async (file: string): Promise<Envelope<RootSigned>> => {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new UsageError(`cannot read ${file}`)
  })
  return JSON.parse(text) as Envelope<RootSigned>
}

/** One key holder adds their signature to a draft, in place. */
async function signDraft(file: string, specs: string[]): Promise<void> {
  if (specs.length === 0) throw new UsageError(`--sign is required\n\n${USAGE}`)
  const { signers, close } = await openSigners(specs)
  try {
    const draft = await signRoot(await readDraft(file), signers)
    await writeFile(file, encodeEnvelope(draft))
    out({ draft: file, version: draft.signed.version, signatures: draft.signatures.map((x) => x.keyid) })
  } finally {
    await close()
  }
}

async function installRoot(config: Config, files: string[]): Promise<void> {
  if (files.length === 0) throw new UsageError(`install-root needs a root file\n\n${USAGE}`)
  const repos = await openRepositories({ databaseUrl: config.databaseUrl, sqlitePath: join(config.dataDir, 'slipway.db') })
  try {
    const trust = new TrustService(repos.roots)
    for (const file of files) {
      const r = await trust.install(await readRootFile(file))
      process.stderr.write(r.created ? `installed root v${r.version}\n` : `root v${r.version} was already installed\n`)
      out({ file, ...r })
    }
    process.stderr.write('servers pick the new root up on their next push check; after an online key rotation, restart them with the new key\n')
  } finally {
    await repos.close()
  }
}

export async function keysCommand(loadConfig: () => Config, argv: string[]): Promise<void> {
  const { values: v, positionals } = parse(argv, OPTIONS, USAGE)
  const [action, ...args] = positionals
  switch (action) {
    case 'generate': {
      const key = await generateKey(required(args[0], 'KEY', USAGE), keyType(v.type))
      await (key as { close?: () => Promise<void> }).close?.()
      process.stderr.write(`created ${args[0]} (keyid ${key.keyId})\n`)
      return out(key.publicKey)
    }
    case 'public': {
      const spec = required(args[0], 'KEY', USAGE)
      const key = await publicKeyOf(spec)
      process.stderr.write(`keyid ${keyIdOf(key)}\n`)
      return out(key)
    }
    case 'create-root':
      return createRootCommand(v)
    case 'add-release-key':
      return publishChange(v, async () => addReleaseKey(await publicKeyOf(required(v.key, '--key', USAGE))))
    case 'revoke-release-key':
      return publishChange(v, async () => revokeReleaseKey(required(v['key-id'], '--key-id', USAGE)))
    case 'set-threshold': {
      const role = required(v.role, '--role', USAGE) as RoleName
      if (!ROLE_NAMES.includes(role)) throw new UsageError(`--role must be one of ${ROLE_NAMES.join(', ')}`)
      const threshold = count(v.threshold, '--threshold')
      return publishChange(v, async () => changeThresholds({ [role]: threshold }))
    }
    case 'rotate-online':
      return publishChange(v, async () => {
        const key = await publicKeyOf(required(v.key, '--key', USAGE))
        const chain = await readChain(required(v.chain, '--chain', USAGE))
        const old = summary(chain.at(-1) as Buffer).roles.online?.keyids ?? []
        return rotateOnlineKey(key, old)
      })
    case 'change-root-keys':
      // e.g. hand the dev root over to real key holders: add theirs, remove the dev key
      return publishChange(v, async () => {
        const add = await Promise.all((v.add ?? []).map((k) => publicKeyOf(k)))
        if (add.length === 0 && (v.remove ?? []).length === 0) throw new UsageError(`--add or --remove is required\n\n${USAGE}`)
        const threshold = v.threshold === undefined ? undefined : count(v.threshold, '--threshold')
        return { ...changeRootKeys(add, v.remove ?? []), ...(threshold ? changeThresholds({ root: threshold }) : {}) }
      })
    case 'show': {
      const chain = await readChain(required(v.chain, '--chain', USAGE))
      for (const r of chain) out(summary(r))
      return
    }
    case 'sign-draft':
      return signDraft(required(args[0], 'DRAFT', USAGE), v.sign ?? [])
    case 'publish': {
      const dir = required(v.chain, '--chain', USAGE)
      const current = (await readChain(dir)).at(-1) as Buffer
      return writePublished(dir, publishRoot(current, await readDraft(required(args[0], 'DRAFT', USAGE))))
    }
    case 'install-root':
      return installRoot(loadConfig(), args)
    default:
      throw new UsageError(USAGE)
  }
}
