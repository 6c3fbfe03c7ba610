import { pino, type Logger } from 'pino';

export type { Logger };

/** createLogger builds the process logger; JSON lines on stdout, level from config. */
export function createLogger(level: string = 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** silentLogger is for tests that do not want output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
