/**
 * The delta-source policy (server/domain/deltas/fleet-versions.ts): the fleet's most
 * installed versions, only those the server published with the same content.
 */
import t from 'tap'
import { InstalledFleetVersions } from '../../server/domain/deltas/fleet-versions.js'

const sha = (c: string) => c.repeat(64)

t.test('keeps published versions with the same content, most devices first, up to the limit', async (t) => {
  const asked: Array<[string, string[], number]> = []
  const installed = [
    { version: '1.3.0', sha256: sha('c'), devices: 40 },
    { version: '0.9.0-local', sha256: sha('e'), devices: 30 }, // enrolled with it, never published
    { version: '1.2.0', sha256: sha('f'), devices: 20 }, // published, but with other content
    { version: '1.1.0', sha256: sha('a'), devices: 10 },
    { version: '1.0.0', sha256: sha('0'), devices: 5 },
  ]
  const published: Record<string, { id: string; sha256: string }> = {
    '1.3.0': { id: 'r13', sha256: sha('c') },
    '1.2.0': { id: 'r12', sha256: sha('b') },
    '1.1.0': { id: 'r11', sha256: sha('a') },
    '1.0.0': { id: 'r10', sha256: sha('0') },
  }
  const versions = new InstalledFleetVersions(
    {
      topInstalled: async (name, hardware, limit) => {
        asked.push([name, hardware, limit])
        return installed.slice(0, limit)
      },
    },
    { findByNameVersion: async (_name, version) => published[version] as never },
  )
  t.same(await versions.topInstalled('rootfs', ['rpi5'], 2), [
    { releaseId: 'r13', devices: 40 },
    { releaseId: 'r11', devices: 10 },
  ])
  t.same(asked, [['rootfs', ['rpi5'], 4]], 'asks for twice the limit, since some versions cannot be sources')
  t.same(await versions.topInstalled('rootfs', ['rpi5'], 5), [
    { releaseId: 'r13', devices: 40 },
    { releaseId: 'r11', devices: 10 },
    { releaseId: 'r10', devices: 5 },
  ], 'fewer than the limit when fewer qualify')
})
