/**
 * The one base of the agent's error trees (AgentError, SlotError, ModelError,
 * DeltaError): a stable `code` of the tree's union and optional details. A failure
 * report's reason comes from any of them the same way (`reasonOf`).
 */
export class CodedError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = new.target.name
  }
}
