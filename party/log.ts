import type { LogLevel } from './config'

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }

export type Logger = {
  [L in LogLevel]: (msg: string, fields?: Record<string, unknown>) => void
} & { child(context: Record<string, unknown>): Logger }

/**
 * A structured logger: one JSON object a line, carrying the context it was
 * made with (`room`, `peerId`). SDP bodies are never logged above debug.
 */
export function createLogger(level: LogLevel, context: Record<string, unknown> = {}): Logger {
  const write = (at: LogLevel) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[at] < ORDER[level]) return
    const line = JSON.stringify({ level: at, msg, ...context, ...fields })
    if (at === 'error') console.error(line)
    else if (at === 'warn') console.warn(line)
    else console.log(line)
  }
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (more) => createLogger(level, { ...context, ...more }),
  }
}
