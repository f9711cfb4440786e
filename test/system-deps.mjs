#!/usr/bin/env node
// The Debian packages the tests need, checked before `npm test` (npm's pretest) and by
// .ci/run: one list. Missing ones are installed when running as root with apt-get;
// otherwise this stops at once and prints the exact apt-get line.
import { spawnSync } from 'node:child_process'

/** command the tests run → Debian package that provides it */
export const SYSTEM_DEPS = {
  'softhsm2-util': 'softhsm2',
  'pkcs11-tool': 'opensc',
  openssl: 'openssl',
  bsdiff: 'bsdiff',
  xdelta3: 'xdelta3',
  zstd: 'zstd',
  python3: 'python3',
  curl: 'curl',
  'systemd-analyze': 'systemd',
  fw_setenv: 'libubootenv-tool',
  'grub-editenv': 'grub-common',
  swtpm: 'swtpm',
  swtpm_setup: 'swtpm-tools',
  tpm2_sign: 'tpm2-tools',
  nginx: 'nginx',
  chromium: 'chromium',
  pg_isready: 'postgresql-client',
  'redis-cli': 'redis-tools',
}

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
const missing = [...new Set(Object.entries(SYSTEM_DEPS).filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg))]
if (missing.length === 0) process.exit(0)

const line = `apt-get install -y ${missing.join(' ')}`
if (process.getuid?.() === 0 && has('apt-get')) {
  console.error(`test prerequisites: ${line}`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const ok = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env }).status === 0 && spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env }).status === 0
  if (ok) process.exit(0)
}
console.error(`error: TEST_PREREQUISITES_MISSING: the tests need Debian packages that are not installed; run:\n  sudo ${line}`)
process.exit(1)
