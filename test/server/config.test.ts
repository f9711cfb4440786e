import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../../server/config.js'

t.test('embedded defaults', async (t) => {
  const c = loadConfig({})
  t.equal(c.port, 8080)
  t.equal(c.host, '127.0.0.1')
  t.equal(c.dataDir, join(process.cwd(), 'data'))
  t.equal(c.uploadDir, join(process.cwd(), 'data', 'uploads'))
  t.equal(c.maxUploadBytes, 16 * 1024 ** 3)
  t.equal(c.databaseUrl, undefined)
  t.equal(c.redisUrl, undefined)
  t.equal(c.s3, undefined)
})

t.test('scale-out values', async (t) => {
  const c = loadConfig({
    PORT: '9000',
    HOST: '0.0.0.0',
    DATABASE_URL: 'postgres://u@db/slipway',
    REDIS_URL: 'redis://cache:6379',
    S3_ENDPOINT: 'http://minio:9000',
    S3_BUCKET: 'slipway',
    S3_ACCESS_KEY: 'a',
    S3_SECRET_KEY: 'b',
    S3_PROXY_DOWNLOADS: 'true',
  })
  t.equal(c.port, 9000)
  t.equal(c.s3?.proxyDownloads, true)
  t.equal(c.s3?.presignSeconds, 300)
})

t.test('a wrong value names its variable', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ S3_ENDPOINT: 'http://minio:9000' }, 'S3_BUCKET'],
    [{ S3_ENDPOINT: 'http://minio:9000', S3_BUCKET: 'b_b', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' }, 'S3_BUCKET'],
    [{ SLIPWAY_ADMIN_TOKEN: 'short' }, 'SLIPWAY_ADMIN_TOKEN'],
    [{ SLIPWAY_MAX_UPLOAD_BYTES: '-1' }, 'SLIPWAY_MAX_UPLOAD_BYTES'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ S3_ENDPOINT: 'http://m:9000', S3_BUCKET: 'bucket', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', S3_PROXY_DOWNLOADS: 'maybe' }, 'S3_PROXY_DOWNLOADS'],
  ]
  for (const [env, variable] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', variable, code: 'CONFIG_INVALID' }, JSON.stringify(env))
    try {
      loadConfig(env)
    } catch (e) {
      t.match((e as ConfigError).message, new RegExp(`^${variable}: `))
    }
  }
})

t.test('config file, overridden by env', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-cfg-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'config.json')
  await writeFile(file, JSON.stringify({ PORT: 9100, SLIPWAY_DATA_DIR: '/var/lib/slipway', LOG_LEVEL: 'warn' }))
  const c = loadConfig({ SLIPWAY_CONFIG: file, LOG_LEVEL: 'debug' })
  t.equal(c.port, 9100)
  t.equal(c.dataDir, '/var/lib/slipway')
  t.equal(c.logLevel, 'debug', 'env wins over the file')
  await writeFile(file, '{not json')
  t.throws(() => loadConfig({ SLIPWAY_CONFIG: file }), { name: 'ConfigError', code: 'CONFIG_INVALID', variable: 'SLIPWAY_CONFIG' })
  t.throws(() => loadConfig({ SLIPWAY_CONFIG: join(dir, 'missing.json') }), { name: 'ConfigError', code: 'CONFIG_INVALID', variable: 'SLIPWAY_CONFIG' })
})

const hsmOnline = { PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so', PKCS11_TOKEN_LABEL: 'slipway', PKCS11_ONLINE_KEY_LABEL: 'online' }

t.test('device identity: defaults, TLS files, trusted proxies; a bad value names its variable', async (t) => {
  const d = loadConfig({}).identity
  t.same(d, { certLifetimeSeconds: 30 * 86400, bearerCompat: false, trustedProxies: [], tls: undefined })
  const c = loadConfig({ TLS_CERT_FILE: '/etc/s/c.pem', TLS_KEY_FILE: '/etc/s/k.pem', SLIPWAY_TRUSTED_PROXIES: '10.0.0.0/8, ::1', SLIPWAY_DEVICE_BEARER_COMPAT: 'true', SLIPWAY_DEVICE_CERT_LIFETIME_SECONDS: '3600' }).identity
  t.same(c, { certLifetimeSeconds: 3600, bearerCompat: true, trustedProxies: ['10.0.0.0/8', '::1'], tls: { certFile: '/etc/s/c.pem', keyFile: '/etc/s/k.pem' } })
  for (const [env, variable] of [
    [{ SLIPWAY_TRUSTED_PROXIES: '10.0.0.0/33' }, 'SLIPWAY_TRUSTED_PROXIES'],
    [{ SLIPWAY_TRUSTED_PROXIES: 'proxy.local' }, 'SLIPWAY_TRUSTED_PROXIES'],
    [{ TLS_CERT_FILE: '/c.pem' }, 'TLS_KEY_FILE'],
    [{ TLS_CLIENT_CA_FILE: '/ca.pem' }, 'TLS_CERT_FILE'],
    [{ SLIPWAY_DEVICE_CERT_LIFETIME_SECONDS: '10' }, 'SLIPWAY_DEVICE_CERT_LIFETIME_SECONDS'],
    [{ PKCS11_DEVICE_CA_KEY_LABEL: 'ca' }, 'PKCS11_MODULE'],
  ] as Array<[Record<string, string>, string]>)
    t.throws(() => loadConfig(env), { code: 'CONFIG_INVALID', variable }, variable)
})

t.test('keys: file online key by default, PKCS#11 when PKCS11_MODULE is set', async (t) => {
  const dflt = loadConfig({ SLIPWAY_DATA_DIR: '/srv/slipway' })
  t.same(dflt.keys, { dir: '/srv/slipway/keys', online: { kind: 'file', path: '/srv/slipway/keys/online.pem' }, deviceCa: { kind: 'file', path: '/srv/slipway/keys/device-ca.pem' } })
  t.same(loadConfig({ SLIPWAY_DATA_DIR: '/srv/slipway', SLIPWAY_ONLINE_KEY_FILE: '/etc/slipway/online.pem' }).keys.online, { kind: 'file', path: '/etc/slipway/online.pem' })
  t.same(loadConfig({ SLIPWAY_KEYS_DIR: '/var/lib/slipway/keys' }).keys, { dir: '/var/lib/slipway/keys', online: { kind: 'file', path: '/var/lib/slipway/keys/online.pem' }, deviceCa: { kind: 'file', path: '/var/lib/slipway/keys/device-ca.pem' } }, 'a shared keys folder for replicas')
  t.same(loadConfig({ ...hsmOnline, PKCS11_PIN: '1234', PKCS11_DEVICE_CA_KEY_LABEL: 'device-ca' }).keys.deviceCa, { kind: 'pkcs11', modulePath: hsmOnline.PKCS11_MODULE, tokenLabel: 'slipway', keyLabel: 'device-ca', pin: { value: '1234' } }, 'the device CA key in the same token')
  const hsm = { PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so', PKCS11_TOKEN_LABEL: 'slipway', PKCS11_ONLINE_KEY_LABEL: 'online' }
  t.same(loadConfig({ ...hsm, PKCS11_PIN: '1234' }).keys.online, { kind: 'pkcs11', modulePath: hsm.PKCS11_MODULE, tokenLabel: 'slipway', keyLabel: 'online', pin: { value: '1234' } })
  t.same(loadConfig({ ...hsm, PKCS11_PIN_FILE: '/run/credentials/slipway/pin' }).keys.online, {
    kind: 'pkcs11', modulePath: hsm.PKCS11_MODULE, tokenLabel: 'slipway', keyLabel: 'online', pin: { file: '/run/credentials/slipway/pin' },
  })
})

t.test('keys: a wrong or incomplete PKCS#11 setting names its variable', async (t) => {
  const hsm = { PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so', PKCS11_TOKEN_LABEL: 'slipway', PKCS11_ONLINE_KEY_LABEL: 'online', PKCS11_PIN: '1234' }
  const without = (name: keyof typeof hsm) => Object.fromEntries(Object.entries(hsm).filter(([k]) => k !== name))
  const cases: Array<[Record<string, string>, string]> = [
    [without('PKCS11_TOKEN_LABEL'), 'PKCS11_TOKEN_LABEL'],
    [without('PKCS11_ONLINE_KEY_LABEL'), 'PKCS11_ONLINE_KEY_LABEL'],
    [without('PKCS11_PIN'), 'PKCS11_PIN'],
    [{ ...hsm, PKCS11_PIN_FILE: '/run/pin' }, 'PKCS11_PIN_FILE'],
    [without('PKCS11_MODULE'), 'PKCS11_MODULE'],
    [{ ...hsm, SLIPWAY_ONLINE_KEY_FILE: '/k.pem' }, 'SLIPWAY_ONLINE_KEY_FILE'],
  ]
  for (const [env, variable] of cases) t.throws(() => loadConfig(env), { name: 'ConfigError', code: 'CONFIG_INVALID', variable }, variable)
  const err = (() => {
    try {
      loadConfig({ ...hsm, PKCS11_PIN_FILE: '/run/pin' })
    } catch (e) {
      return e as Error
    }
  })()
  t.ok(err, 'refused')
  t.notOk(err?.message.includes('1234'), 'messages never hold a PIN')
})

t.test('delta settings: defaults, values, and each wrong one named', async (t) => {
  t.same(loadConfig({ SLIPWAY_DATA_DIR: '/srv/slipway' }).delta, {
    memoryBudget: 1024 ** 3,
    offerRatio: 0.7,
    topSources: 3,
    workDir: '/srv/slipway/delta-work',
    formatVersion: 3,
  })
  t.same(
    loadConfig({ SLIPWAY_DELTA_MEMORY_BUDGET: String(4 * 1024 ** 3), SLIPWAY_DELTA_OFFER_RATIO: '0.5', SLIPWAY_DELTA_TOP_SOURCES: '0', SLIPWAY_DELTA_WORK_DIR: '/scratch', SLIPWAY_DELTA_FORMAT_VERSION: '3' }).delta,
    { memoryBudget: 4 * 1024 ** 3, offerRatio: 0.5, topSources: 0, workDir: '/scratch', formatVersion: 3 },
  )
  t.equal(loadConfig({ SLIPWAY_DELTA_OFFER_RATIO: '1' }).delta.offerRatio, 1)
  for (const [env, name] of [
    [{ SLIPWAY_DELTA_MEMORY_BUDGET: '1GiB' }, 'SLIPWAY_DELTA_MEMORY_BUDGET'],
    [{ SLIPWAY_DELTA_MEMORY_BUDGET: '1000000' }, 'SLIPWAY_DELTA_MEMORY_BUDGET'],
    [{ SLIPWAY_DELTA_OFFER_RATIO: '0' }, 'SLIPWAY_DELTA_OFFER_RATIO'],
    [{ SLIPWAY_DELTA_OFFER_RATIO: '1.5' }, 'SLIPWAY_DELTA_OFFER_RATIO'],
    [{ SLIPWAY_DELTA_OFFER_RATIO: '70%' }, 'SLIPWAY_DELTA_OFFER_RATIO'],
    [{ SLIPWAY_DELTA_TOP_SOURCES: '-1' }, 'SLIPWAY_DELTA_TOP_SOURCES'],
    [{ SLIPWAY_DELTA_TOP_SOURCES: '1000' }, 'SLIPWAY_DELTA_TOP_SOURCES'],
    [{ SLIPWAY_DELTA_FORMAT_VERSION: '4' }, 'SLIPWAY_DELTA_FORMAT_VERSION'],
    [{ SLIPWAY_DELTA_FORMAT_VERSION: '0' }, 'SLIPWAY_DELTA_FORMAT_VERSION'],
    [{ SLIPWAY_DELTA_FORMAT_VERSION: 'v2' }, 'SLIPWAY_DELTA_FORMAT_VERSION'],
  ] as Array<[Record<string, string>, string]>) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', code: 'CONFIG_INVALID', variable: name }, `${JSON.stringify(env)} names ${name}`)
  }
})
