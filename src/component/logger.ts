/**
 * The agent's own log: structured JSON lines (pino) on standard error, so standard output carries only
 * records. Never called per event. Each line has `time` (ISO 8601), `level` (debug, info, warn,
 * error), `msg` and the fields given.
 */
import pino from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Level[] = ['debug', 'info', 'warn', 'error'];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

function wrap(p: pino.Logger): Logger {
  return {
    debug: (m, f) => p.debug(f ?? {}, m),
    info: (m, f) => p.info(f ?? {}, m),
    warn: (m, f) => p.warn(f ?? {}, m),
    error: (m, f) => p.error(f ?? {}, m),
    child: (f) => wrap(p.child(f)),
  };
}

/**
 * `write` receives each JSON line (default: synchronous writes to standard error, so nothing is lost
 * when the process exits).
 */
export function createLogger(
  level: Level = LEVELS.includes(process.env.KITE_LOG_LEVEL as Level) ? (process.env.KITE_LOG_LEVEL as Level) : 'info',
  write?: (line: string) => void,
): Logger {
  const dest = write ? { write } : pino.destination({ dest: 2, sync: true });
  return wrap(pino({
    level,
    base: undefined,
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { error: pino.stdSerializers.err },
  }, dest));
}
