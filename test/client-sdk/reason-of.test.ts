/**
 * A failure report's reason keeps the code of whichever error tree threw it (issue 16
 * §5: model-store failures were reported as AGENT_INTERNAL because reasonOf did not
 * know ModelError).
 */
import t from 'tap'
import { AgentError, reasonOf } from '../../client-sdk/src/errors.js'
import { CodedError } from '../../client-sdk/src/coded-error.js'
import { DeltaError } from '../../client-sdk/src/delta/errors.js'
import { ModelError } from '../../client-sdk/src/models/errors.js'
import { SlotError } from '../../client-sdk/src/slots/errors.js'
import { TrustError } from '../../signing/errors.js'

t.test('each tree keeps its code and name; unknown errors are AGENT_INTERNAL; a full disk is SLOT_NO_SPACE', async (t) => {
  const cases: Array<[Error, string, string]> = [
    [new AgentError('DATA_NO_SPACE', 'full'), 'DATA_NO_SPACE', 'AgentError'],
    [new SlotError('SLOT_BAD_CONFIG', 'bad'), 'SLOT_BAD_CONFIG', 'SlotError'],
    [new ModelError('MODEL_STORE_INVALID', 'stray link'), 'MODEL_STORE_INVALID', 'ModelError'],
    [new DeltaError('DELTA_RESUME_MISMATCH', 'other patch'), 'DELTA_RESUME_MISMATCH', 'DeltaError'],
  ]
  for (const [e, code, name] of cases) {
    t.ok(e instanceof CodedError, `${name} is a CodedError`)
    t.equal(e.name, name)
    t.same(reasonOf(e), { code, message: e.message }, `${name} keeps ${code}`)
  }
  t.equal(reasonOf(new TrustError('SIGNATURE_INVALID', 'tampered')).code, 'SIGNATURE_INVALID')
  t.equal(reasonOf(Object.assign(new Error('no space left'), { code: 'ENOSPC' })).code, 'SLOT_NO_SPACE')
  t.same(reasonOf(new Error('boom')), { code: 'AGENT_INTERNAL', message: 'boom' })
  t.equal(reasonOf(Object.assign(new Error('fake'), { name: 'ModelError', code: 'NOT_OURS' })).code, 'AGENT_INTERNAL', 'a lookalike by name only is not trusted')
  t.equal(reasonOf(new AgentError('NETWORK_ERROR', 'x'.repeat(5000))).message.length, 1000, 'messages are bounded')
})
