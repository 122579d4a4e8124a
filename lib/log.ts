export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }

/** One structured log line: the message, the logger's context, and its fields. */
export type LogRecord = { level: LogLevel; msg: string } & Record<string, unknown>
export type LogSink = (record: LogRecord) => void

export type Logger = {
  [L in LogLevel]: (msg: string, fields?: Record<string, unknown>) => void
} & {
  /** A logger for a subsystem, adding its context (`peerId`, `room`…) to every line. */
  child(context: Record<string, unknown>): Logger
}

/** Writes one JSON object a line to the console (stderr for warn and error). */
export const consoleSink: LogSink = (record) => {
  const line = JSON.stringify(record)
  if (record.level === 'error') console.error(line)
  else if (record.level === 'warn') console.warn(line)
  // eslint-disable-next-line no-console -- the console sink is where log lines go
  else console.log(line)
}

/**
 * A structured logger, one per subsystem, that adds its context to every line.
 * SDP bodies are never logged above debug.
 *
 * @example
 * const log = createLogger({ level: 'info' }).child({ selfId, peerId })
 * log.debug('offer sent', { session })
 */
export function createLogger(options: { level?: LogLevel; sink?: LogSink } = {}, context: Record<string, unknown> = {}): Logger {
  const level = options.level ?? 'info'
  const sink = options.sink ?? consoleSink
  const write =
    (at: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[at] < ORDER[level]) return
      sink({ level: at, msg, ...context, ...fields })
    }
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (more) => createLogger(options, { ...context, ...more }),
  }
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger({ sink: () => undefined })
