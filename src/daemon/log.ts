// The daemon's log: one line per record on stderr. JSON lines ({"ts","level","msg",...fields})
// when stderr is not a terminal (journald, files, log shippers), readable lines on a terminal.
// Fields are plain data; bigints are written as strings and Errors as their message.

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export type Fields = Record<string, unknown>

export interface Logger {
  readonly level: LogLevel
  debug(msg: string, fields?: Fields): void
  info(msg: string, fields?: Fields): void
  warn(msg: string, fields?: Fields): void
  error(msg: string, fields?: Fields): void
  enabled(level: LogLevel): boolean
}

export interface LoggerOptions {
  level?: LogLevel
  /** JSON lines (true) or readable lines (false); default: JSON unless the stream is a terminal. */
  json?: boolean
  stream?: {write(s: string): unknown; isTTY?: boolean}
  /** Clock for tests. */
  now?: () => Date
}

const RANK: Record<LogLevel, number> = {debug: 10, info: 20, warn: 30, error: 40}

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString()
  if (v instanceof Error) return v.message
  return v
}

function readable(v: unknown): string {
  const p = plain(v)
  if (typeof p === 'string') return /^[^\s"=]+$/.test(p) ? p : JSON.stringify(p)
  return JSON.stringify(p, (_k, x) => plain(x))
}

/** Streams whose write errors are already ignored. */
const quieted = new WeakSet<object>()

export function createLogger(opts: LoggerOptions = {}): Logger {
  const stream = opts.stream ?? process.stderr
  // A closed pipe (the reader of stderr went away) reports EPIPE as an 'error' event; unheard, it
  // would end the daemon and leave its pods unsupervised. The log is lost, the work goes on.
  const emitter = stream as {on?: (event: string, fn: () => void) => unknown}
  if (typeof emitter.on === 'function' && !quieted.has(stream)) {
    quieted.add(stream)
    emitter.on('error', () => undefined)
  }
  const json = opts.json ?? !stream.isTTY
  const level = opts.level ?? 'info'
  const now = opts.now ?? (() => new Date())
  const write = (lv: LogLevel, msg: string, fields: Fields = {}): void => {
    if (RANK[lv] < RANK[level]) return
    const ts = now()
    let line: string
    if (json) {
      line = JSON.stringify({ts: ts.toISOString(), level: lv, msg, ...fields}, (_k, v) => plain(v))
    } else {
      const hh = ts.toISOString().slice(11, 23)
      const extra = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${readable(v)}`)
        .join(' ')
      line = `${hh} ${lv.toUpperCase().padEnd(5)} ${msg}${extra ? `  ${extra}` : ''}`
    }
    try {
      stream.write(line + '\n')
    } catch {
      // A closed stderr must not take the daemon down.
    }
  }
  return {
    level,
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    enabled: (lv) => RANK[lv] >= RANK[level],
  }
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = {
  level: 'error',
  debug() {},
  info() {},
  warn() {},
  error() {},
  enabled: () => false,
}
