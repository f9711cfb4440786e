/** Argument parsing shared by the subcommands (node:util parseArgs, strict). */
import { parseArgs, type ParseArgsConfig } from 'node:util'

export class UsageError extends Error {
  readonly code = 'USAGE'
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${usage}`)
  }
}

export function required(value: string | undefined, flag: string, usage: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required\n\n${usage}`)
  return value
}

/** A command that ran but found something wrong (exit 1), with a stable code. */
export class CliFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}
