/** Setting and reading provenance policies; every change is audited in the same transaction. */
import type { FleetRepositories } from '../ports/fleet-repositories.js'
import { checkReleaseName } from './release-input.js'
import type { Provenance } from '../model.js'
import { enforcePolicy, normalFields, type ProvenanceField, type ReleasePolicy } from './provenance-policy.js'

export class ReleasePolicyService {
  constructor(
    private readonly fleet: FleetRepositories,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A name without a policy requires nothing. */
  async get(name: string): Promise<ReleasePolicy> {
    checkReleaseName(name)
    return (await this.fleet.releasePolicies.find(name)) ?? { name, require: [], updatedBy: null, updatedAt: null }
  }

  async set(name: string, require: readonly ProvenanceField[], actor: string, reason: string | null): Promise<ReleasePolicy> {
    checkReleaseName(name)
    const at = this.now().toISOString()
    const policy: ReleasePolicy = { name, require: normalFields(require), updatedBy: actor, updatedAt: at }
    return this.fleet.transaction(async (tx) => {
      const before = await tx.releasePolicies.find(name)
      await tx.releasePolicies.upsert(policy)
      await tx.audit.append({ actor, action: 'release-policy.set', subject: `release-policy:${name}`, reason, before: before ? { require: before.require } : null, after: { require: policy.require } }, at)
      return policy
    })
  }

  /** PROVENANCE_REQUIRED when `p` lacks a field the policy of `name` requires. */
  async enforce(name: string, p: Provenance): Promise<void> {
    enforcePolicy(await this.fleet.releasePolicies.find(name), p)
  }
}
