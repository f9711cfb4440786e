/** The agent's log: one JSON line per entry on stderr (journald keeps it), or whatever the host passes in. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }

export function jsonLog(min: LogLevel = 'info', out: NodeJS.WritableStream = process.stderr): Log {
  return (level, msg, fields) => {
    if (ORDER[level] < ORDER[min]) return
    out.write(`${JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields })}\n`)
  }
}

export const silentLog: Log = () => {}
