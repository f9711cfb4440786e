/**
 * Issue 12 §3 on the agent: the inventory goes out at every start (boot) and
 * afterwards only when its digest changes; the package list only when the server
 * asks for it. The digests agree with the server's.
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { inventoryDigest, packagesDigest } from '../../../client-sdk/src/wire/index.js'
import { parseOsRelease } from '../../../client-sdk/src/inventory/collect.js'
import { AGENT_VERSION } from '../../../client-sdk/src/inventory/version.js'
import * as server from '../../../server/domain/devices/inventory.js'
import { fakeApi, releaseOf, simDevice, trustKit } from './device-fixtures.js'

const OS_12 = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'

t.test('reported at boot and on change only; the package list when asked', async (t) => {
  const api = await fakeApi(t, await trustKit())
  const dir = await mkdtemp(join(tmpdir(), 'inv-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const osRelease = join(dir, 'os-release')
  await writeFile(osRelease, OS_12)
  const imageA = Buffer.alloc(1000, 1)
  const dev = await simDevice(t, api, {
    imageA,
    installed: releaseOf(imageA, { version: '1.0.0' }),
    config: { inventory: { osReleasePath: osRelease, packagesCommand: ['printf', 'openssl\\t3.0.14-1\\nlibc6\\t2.36-9\\n'], tpmDevice: join(dir, 'no-tpm') } },
  })
  api.wantPackages = true
  await dev.agent.tick()
  t.equal(api.inventory.length, 2, 'the first report, then the list the server asked for')
  const [first, withList] = api.inventory
  t.match(first, { os: { id: 'debian', versionId: '12' }, agentVersion: AGENT_VERSION, bootloader: 'file', tpm: false, packages: { count: 2 }, models: [] })
  t.notOk(first.packages.list, 'no list unless asked')
  t.same(withList.packages.list, [
    { name: 'openssl', version: '3.0.14-1' },
    { name: 'libc6', version: '2.36-9' },
  ])
  t.equal(first.packages.digest, server.packagesDigest(withList.packages.list), 'the server accepts the list for that digest')
  t.match(first.storage, [{ name: 'data', freeBytes: Number }, { name: 'slot-a', freeBytes: Number }], 'free space of the data folder and of each slot file there is')
  api.wantPackages = false

  await dev.agent.tick()
  await dev.agent.tick()
  t.equal(api.inventory.length, 2, 'nothing changed: nothing sent')

  await writeFile(osRelease, OS_12.replace('VERSION_ID="12"', 'VERSION_ID="13"'))
  await dev.agent.tick()
  t.equal(api.inventory.length, 3, 'a change is sent')
  t.match(api.inventory[2], { os: { versionId: '13' } })
  await dev.agent.tick()
  t.equal(api.inventory.length, 3, 'once')

  await dev.powerCycle()
  await dev.agent.tick()
  t.equal(api.inventory.length, 4, 'a boot sends it again, changed or not')
  t.equal(api.inventory[3].digest, api.inventory[2].digest)
})

t.test('a failed report is tried again on the next tick', async (t) => {
  const api = await fakeApi(t, await trustKit())
  const imageA = Buffer.alloc(1000, 1)
  const dev = await simDevice(t, api, { imageA, installed: releaseOf(imageA, { version: '1.0.0' }), config: { inventory: { packagesCommand: false } } })
  const real = api.server.listeners('request')[0] as (...a: unknown[]) => void
  api.server.removeAllListeners('request')
  let refuse = true
  api.server.on('request', (req, res) => {
    if (req.url === '/v1/device/inventory' && refuse) return void res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"UNAVAILABLE","message":"later"}}')
    return real(req, res)
  })
  const r = await dev.agent.tick()
  t.equal(r.poll, 'none', 'the poll is not held up by the failed report')
  t.equal(api.inventory.length, 0)
  refuse = false
  await dev.agent.tick()
  t.equal(api.inventory.length, 1, 'sent on the next tick')
  t.notOk(api.inventory[0].packages, 'no package list without dpkg-query')
})

t.test('digests: free space, order and the list itself do not count; agent and server agree', async (t) => {
  const base = {
    os: { id: 'debian', versionId: '12' },
    kernel: '6.1.0-27-arm64',
    agentVersion: '0.1.0',
    packages: { digest: 'a'.repeat(64), count: 2 },
    models: [
      { name: 'b', version: '1', sha256: 'b'.repeat(64) },
      { name: 'a', version: '1', sha256: 'a'.repeat(64) },
    ],
    storage: [
      { name: 'data', freeBytes: 10 },
      { name: 'slot-a', freeBytes: 20 },
    ],
    bootloader: 'uboot',
    tpm: true,
  }
  const d = inventoryDigest(base)
  t.equal(inventoryDigest({ ...base, storage: [{ name: 'slot-a', freeBytes: 1 }, { name: 'data', freeBytes: 99 }] }), d, 'free space moves, the digest does not')
  t.equal(inventoryDigest({ ...base, models: [...base.models].reverse() }), d, 'model order does not count')
  t.equal(inventoryDigest({ ...base, packages: { ...base.packages, list: [{ name: 'x', version: '1' }] } }), d, 'the list is behind its digest')
  t.not(inventoryDigest({ ...base, kernel: '6.1.0-28-arm64' }), d, 'a kernel change counts')
  t.not(inventoryDigest({ ...base, tpm: false }), d)
  t.not(inventoryDigest({ ...base, storage: [{ name: 'data', freeBytes: 10 }] }), d, 'a slot that disappears counts')
  t.equal(server.inventoryDigest(base), server.inventoryDigest({ ...base, storage: [{ name: 'slot-a', freeBytes: 0 }, { name: 'data', freeBytes: 0 }] }), 'the server leaves free space out too')
  const list = [
    { name: 'openssl', version: '3.0.15-1' },
    { name: 'libc6', version: '2.36-9' },
    { name: 'libc6', version: '2.36-9' },
  ]
  t.equal(packagesDigest(list), server.packagesDigest([...list].reverse()), 'the package digest is the same on both sides, whatever the order and duplicates')
  t.same(parseOsRelease('ID=debian\nVERSION_ID="12"\n# comment\nPRETTY_NAME=\'Debian 12\'\n'), { ID: 'debian', VERSION_ID: '12', PRETTY_NAME: 'Debian 12' })
  const pkg = JSON.parse(readFileSync(new URL('../../../client-sdk/package.json', import.meta.url), 'utf8')) as { version: string }
  t.equal(AGENT_VERSION, pkg.version, 'the reported agent version is the package version')
})
