/**
 * The delta sources of a release: the versions devices run, as release ids (what
 * `device_installed` says). A version the server never published (devices enrolled
 * with it), or published with other content, cannot be a delta source.
 */
import type { FleetVersions } from '../ports/infrastructure.js'
import type { DeviceRepository } from '../ports/fleet-repositories.js'
import type { ReleaseRepository } from '../ports/repositories.js'

export class InstalledFleetVersions implements FleetVersions {
  constructor(
    private readonly devices: Pick<DeviceRepository, 'topInstalled'>,
    private readonly releases: Pick<ReleaseRepository, 'findByNameVersion'>,
  ) {}

  async topInstalled(name: string, hardware: string[], limit: number): Promise<Array<{ releaseId: string; devices: number }>> {
    const out: Array<{ releaseId: string; devices: number }> = []
    // twice the limit: some of the most installed versions may not be publishable sources
    for (const v of await this.devices.topInstalled(name, hardware, limit * 2)) {
      const rel = await this.releases.findByNameVersion(name, v.version)
      if (rel && rel.sha256 === v.sha256) out.push({ releaseId: rel.id, devices: v.devices })
      if (out.length === limit) break
    }
    return out
  }
}
