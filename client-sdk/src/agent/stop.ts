/** SIGTERM (issue 12 §6): a step checks here at each safe point and stops with AGENT_STOPPING; the journal says where to resume. */
import { AgentError } from '../errors.js'
import type { UpdateContext } from './context.js'

export function stopPoint(ctx: Pick<UpdateContext, 'stop'>): void {
  if (ctx.stop?.aborted) throw new AgentError('AGENT_STOPPING', 'stopping (SIGTERM) at a safe point; the update resumes at the next start', { stopping: true })
}
