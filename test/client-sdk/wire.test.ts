/**
 * The device contract's one source (issue 16 §1): the schemas in client-sdk/src/wire
 * are what the server's validator (Fastify, Ajv) checks requests with and what the
 * agent checks answers with, and the types derived from them describe the same values.
 * Each sample is judged by both validators, and must type-check (or fail to) as the
 * schema says.
 */
import Fastify from 'fastify'
import t from 'tap'
import {
  AttestationChallengeSchema,
  CertificateGrantSchema,
  DEVICE_STATES,
  EnrollReplySchema,
  EnrollRequestSchema,
  EventsRequestSchema,
  HealthReportSchema,
  InventoryReportSchema,
  PollOfferSchema,
  SecurityEventSchema,
  conforms,
  problemOf,
  type DeviceEvent,
  type EnrollReply,
  type EnrollRequest,
  type HealthReport,
  type InventoryReport,
  type JsonSchema,
  type PollOffer,
  type ReceivedHealthReport,
  type SecurityEvent,
} from '../../client-sdk/src/wire/index.js'
import { offerFormat } from '../../server/http/device/poll-offer.js'

const sha = 'a'.repeat(64)
const event: DeviceEvent = { id: 'e-1', seq: 1, rolloutId: 'r-1', release: { name: 'os', version: '1.0.0' }, state: 'downloading', progress: { bytes: 1, total: 2 }, at: '2026-01-01T00:00:00Z' }
const health: HealthReport = { id: 'h-1', seq: 2, release: { name: 'os', version: '1.0.0' }, bootOk: true }
const security: SecurityEvent = {
  id: 's-1',
  seq: 3,
  kind: 'integrity',
  reason: { code: 'INTEGRITY_DRIFT', message: 'drift' },
  integrity: { target: 'os', release: { name: 'os', version: '1.0.0' }, sha256: sha, actual: sha, firstDifferingMiB: null, checkedBytes: 10, elapsedMs: 1 },
}
const enroll: EnrollRequest = { enrollmentToken: 'sle_x', hardwareId: 'hw-1', hardware: 'rpi4', installed: [{ name: 'os', version: '1.0.0', sha256: sha }] }
const inventory: InventoryReport = { agentVersion: '1.0.0', models: [], storage: [{ name: 'data', freeBytes: 5 }], packages: { digest: sha, count: 0 } }
const offer: PollOffer = { assignment: { signed: {}, signatures: [] }, release: { signed: {}, signatures: [] }, artifact: { url: `/v1/blobs/${sha}`, length: 3 }, action: 'install' }
const certified: EnrollReply = { deviceId: 'd', group: 'g', state: 'active', certificate: 'PEM', serial: '0a', notAfter: 'x', caCertificate: 'PEM', keyTpmResident: false, pollIntervalSeconds: 60 }
const bearer: EnrollReply = { deviceId: 'd', credential: 'sld_x', group: 'g', pollIntervalSeconds: 60 }

// the types refuse what the schemas refuse
// @ts-expect-error: not a device state
const _badState: DeviceEvent = { ...event, state: 'exploded' }
// @ts-expect-error: bootOk is required
const _noBoot: HealthReport = { id: 'h', seq: 1, release: { name: 'os', version: '1' } }
// @ts-expect-error: the server's view fills checks and metrics in (defaults)
const _received: ReceivedHealthReport = health
void [_badState, _noBoot, _received]

/** [schema, value, the agent's validator and the server's must both accept it] */
const cases: Array<[string, JsonSchema, unknown, boolean]> = [
  ['event', EventsRequestSchema, { events: [event] }, true],
  ['every state', EventsRequestSchema, { events: DEVICE_STATES.map((state, i) => ({ ...event, seq: i, state })) }, true],
  ['unknown state', EventsRequestSchema, { events: [{ ...event, state: 'exploded' }] }, false],
  ['no events', EventsRequestSchema, { events: [] }, false],
  ['extra field', EventsRequestSchema, { events: [{ ...event, extra: 1 }] }, false],
  ['seq past 2^31-1', EventsRequestSchema, { events: [{ ...event, seq: 2 ** 31 }] }, false],
  ['bad report id', EventsRequestSchema, { events: [{ ...event, id: 'a b' }] }, false],
  ['health', HealthReportSchema, health, true],
  ['health with metrics', HealthReportSchema, { ...health, checks: [{ name: 'ping', ok: true }], metrics: { cpu: 0.5 } }, true],
  ['health metric not a number', HealthReportSchema, { ...health, metrics: { cpu: 'high' } }, false],
  ['security', SecurityEventSchema, security, true],
  ['security kind', SecurityEventSchema, { ...security, kind: 'hacked' }, false],
  ['enroll', EnrollRequestSchema, enroll, true],
  ['enroll bad tag', EnrollRequestSchema, { ...enroll, tags: ['a b'] }, false],
  ['enroll no token', EnrollRequestSchema, { hardwareId: 'hw', hardware: 'x' }, false],
  ['inventory', InventoryReportSchema, inventory, true],
  ['inventory bad digest', InventoryReportSchema, { ...inventory, packages: { digest: 'x', count: 0 } }, false],
  ['offer', PollOfferSchema, offer, true],
  ['offer with delta', PollOfferSchema, { ...offer, delta: { signed: {} }, patch: { url: '/v1/blobs/x', length: 1 } }, true],
  ['offer null delta', PollOfferSchema, { ...offer, delta: null, patch: null }, true],
  ['offer without artifact', PollOfferSchema, { assignment: {}, release: {} }, false],
  ['offer artifact length', PollOfferSchema, { ...offer, artifact: { url: '/v1/blobs/x', length: -1 } }, false],
  ['offer action', PollOfferSchema, { ...offer, action: 'explode' }, false],
  ['offer envelope not an object', PollOfferSchema, { ...offer, release: 'x' }, false],
  ['offer from a newer server', PollOfferSchema, { ...offer, newField: true }, true],
  ['certificate enrollment', EnrollReplySchema, certified, true],
  ['bearer enrollment', EnrollReplySchema, bearer, true],
  ['enrollment without either', EnrollReplySchema, { deviceId: 'd', group: 'g', pollIntervalSeconds: 60 }, false],
  ['renewal', CertificateGrantSchema, certified, true],
  ['renewal state', CertificateGrantSchema, { ...certified, state: 'lost' }, false],
  ['challenge', AttestationChallengeSchema, { challenge: 'c', credentialBlob: 'b', encryptedSecret: 's' }, true],
  ['challenge missing', AttestationChallengeSchema, { challenge: 'c' }, false],
]

t.test('the agent and the server judge every sample alike', async (t) => {
  // the server's Ajv options, less type coercion (a device sends numbers as numbers)
  const app = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true } } })
  const schemas = [...new Set(cases.map((c) => c[1]))]
  schemas.forEach((schema, i) => app.post(`/${i}`, { schema: { body: schema } }, async () => ({})))
  t.teardown(() => app.close())
  for (const [name, schema, value, ok] of cases) {
    const server = (await app.inject({ method: 'POST', url: `/${schemas.indexOf(schema)}`, payload: value as object })).statusCode === 200
    const problem = problemOf(schema, value)
    t.equal(server, ok, `${name}: the server ${ok ? 'accepts' : 'refuses'} it`)
    t.equal(problem === undefined, ok, `${name}: the agent ${ok ? 'accepts' : 'refuses'} it${problem ? ` (${problem})` : ''}`)
  }
})

t.test('the validator names the first problem', async (t) => {
  t.equal(problemOf(PollOfferSchema, { ...offer, artifact: { url: 'u', length: 1.5 } }), 'body.artifact.length is not an integer')
  t.equal(problemOf(EventsRequestSchema, { events: [{ ...event, extra: 1 }] }), 'body.events[0].extra is not allowed')
  t.equal(problemOf(EnrollRequestSchema, { hardwareId: 'h', hardware: 'x' }), 'body.enrollmentToken is missing')
  t.ok(conforms(PollOfferSchema, offer))
})

t.test('the poll body the server writes is a PollOffer, and names its blobs', async (t) => {
  const doc = offerFormat.write({
    assignment: { signed: { counter: 1 }, signatures: [] },
    release: { signed: {}, signatures: [] },
    delta: { signed: {}, signatures: [] },
    artifact: { sha256: sha, length: 10 },
    patch: { sha256: 'b'.repeat(64), length: 2 },
    action: 'rollback',
    pollIntervalSeconds: 60,
  })
  const body = JSON.parse(doc) as PollOffer
  t.equal(problemOf(PollOfferSchema, body), undefined)
  t.same(body.artifact, { url: `/v1/blobs/${sha}`, length: 10 })
  t.same(offerFormat.blobs(doc), [
    { sha256: sha, length: 10 },
    { sha256: 'b'.repeat(64), length: 2 },
  ])
})
