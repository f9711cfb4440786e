import { CompiledQuery, sql, type Kysely, type Selectable } from 'kysely'
import type { DeviceCertificate, DevicePollContext } from '../../../domain/fleet-model.js'
import type { DeviceCaRepository, DeviceCertificateRepository } from '../../../domain/ports/fleet-repositories.js'
import { isUniqueViolation } from '../db-errors.js'
import type { Database, DeviceCertificatesTable } from '../schema.js'
import { toPollContext, type PollContextRow } from './devices.js'

const toCertificate = (r: Selectable<DeviceCertificatesTable>): DeviceCertificate => ({
  serial: r.serial,
  deviceId: r.device_id,
  state: r.state as DeviceCertificate['state'],
  keyType: r.key_type as DeviceCertificate['keyType'],
  publicKey: r.public_key,
  keyTpmResident: Number(r.key_tpm_resident) === 1,
  certificate: r.certificate,
  claim: r.claim === null ? null : JSON.parse(r.claim),
  notBefore: r.not_before,
  notAfter: r.not_after,
  issuedAt: r.issued_at,
  revokedAt: r.revoked_at,
  revocationReason: r.revocation_reason,
})

const CERT_COLUMNS = ['serial', 'device_id', 'state', 'key_type', 'public_key', 'key_tpm_resident', 'certificate', 'claim', 'not_before', 'not_after', 'issued_at', 'revoked_at', 'revocation_reason'] as const

export class KyselyCertificates implements DeviceCertificateRepository {
  /** Every device request runs this join, compiled once (see KyselyDevices.pollContextSql). */
  private readonly withDeviceSql: string

  constructor(private readonly db: Kysely<Database>) {
    this.withDeviceSql = this.db
      .selectFrom('device_certificates as c')
      .innerJoin('devices', 'devices.id', 'c.device_id')
      .leftJoin('device_assignments as a', 'a.device_id', 'devices.id')
      .selectAll('devices')
      .select(['a.counter', 'a.rollout_id', 'a.release_id', 'a.action', 'a.body', 'a.etag', 'a.expires_at', 'a.created_at as a_created_at', 'a.withdrawn_at'])
      .select(CERT_COLUMNS.map((c) => sql.ref(`c.${c}`).as(`c_${c}`)))
      .where('c.serial', '=', '')
      .compile().sql
  }

  async insert(c: DeviceCertificate): Promise<void> {
    await this.db
      .insertInto('device_certificates')
      .values({
        serial: c.serial,
        device_id: c.deviceId,
        state: c.state,
        key_type: c.keyType,
        public_key: c.publicKey,
        key_tpm_resident: c.keyTpmResident ? 1 : 0,
        certificate: c.certificate,
        claim: c.claim === null ? null : JSON.stringify(c.claim),
        not_before: c.notBefore,
        not_after: c.notAfter,
        issued_at: c.issuedAt,
        revoked_at: c.revokedAt,
        revocation_reason: c.revocationReason,
      })
      .execute()
  }

  async findWithDevice(serial: string): Promise<{ certificate: DeviceCertificate; device: DevicePollContext } | undefined> {
    const r = (await this.db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(this.withDeviceSql, [serial]))).rows[0]
    if (!r) return undefined
    const cert = Object.fromEntries(CERT_COLUMNS.map((c) => [c, r[`c_${c}`]])) as unknown as Selectable<DeviceCertificatesTable>
    return { certificate: toCertificate(cert), device: toPollContext(r as unknown as PollContextRow) }
  }

  async findBySerial(serial: string): Promise<DeviceCertificate | undefined> {
    const r = await this.db.selectFrom('device_certificates').selectAll().where('serial', '=', serial).executeTakeFirst()
    return r && toCertificate(r)
  }

  async listForDevice(deviceId: string): Promise<DeviceCertificate[]> {
    const rows = await this.db.selectFrom('device_certificates').selectAll().where('device_id', '=', deviceId).orderBy('issued_at').orderBy('serial').execute()
    return rows.map(toCertificate)
  }

  async revokeForDevice(deviceId: string, at: string, reason: string, o: { states?: Array<'active' | 'pending'>; exceptSerial?: string } = {}): Promise<string[]> {
    let q = this.db.selectFrom('device_certificates').select('serial').where('device_id', '=', deviceId).where('state', 'in', o.states ?? ['active', 'pending'])
    if (o.exceptSerial !== undefined) q = q.where('serial', '!=', o.exceptSerial)
    const serials = (await q.execute()).map((r) => r.serial)
    if (serials.length)
      await this.db.updateTable('device_certificates').set({ state: 'revoked', revoked_at: at, revocation_reason: reason }).where('serial', 'in', serials).execute()
    return serials
  }

  async activate(serial: string): Promise<boolean> {
    const r = await this.db.updateTable('device_certificates').set({ state: 'active', claim: null }).where('serial', '=', serial).where('state', '=', 'pending').executeTakeFirst()
    return Number(r.numUpdatedRows) === 1
  }

  async revokedUnexpired(now: string): Promise<Array<{ serial: string; revokedAt: string }>> {
    const rows = await this.db
      .selectFrom('device_certificates')
      .select(['serial', 'revoked_at'])
      .where('state', '=', 'revoked')
      .where('not_after', '>', now)
      .orderBy('serial')
      .execute()
    return rows.map((r) => ({ serial: r.serial, revokedAt: r.revoked_at as string }))
  }

  async revocationCount(): Promise<number> {
    const r = await this.db.selectFrom('device_certificates').select(sql<number>`count(*)`.as('n')).where('state', '=', 'revoked').executeTakeFirstOrThrow()
    return Number(r.n)
  }
}

export class KyselyDeviceCa implements DeviceCaRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(): Promise<string | undefined> {
    return (await this.db.selectFrom('device_ca').select('certificate').where('id', '=', 1).executeTakeFirst())?.certificate
  }

  async insertIfAbsent(pem: string, at: string): Promise<string> {
    try {
      await this.db.insertInto('device_ca').values({ id: 1, certificate: pem, created_at: at }).execute()
      return pem
    } catch (e) {
      // a replica starting at the same time stored its certificate first: that one is the CA's
      if (!isUniqueViolation(e)) throw e
      return (await this.get()) as string
    }
  }
}
