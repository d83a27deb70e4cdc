// The agent's logger: pino, one JSON object per line on standard error (standard output belongs to
// the JSON-lines metrics exporter), or pino-pretty's coloured lines when a person is watching.
// Writes are synchronous: logs are rare next to the kernel's work, and a log line written just
// before an exit must not be lost.
import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import { REDACTED } from './config/redact.ts';
import type { Config, LogFormat, LogLevel } from './config/types.ts';

export type { Logger };

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Where lines go; default standard error. */
  readonly destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** `auto` means pretty for a terminal, JSON for anything else (a pod's log, a pipe, a file). */
export function resolveFormat(format: LogFormat, isTTY: boolean | undefined): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return isTTY === true ? 'pretty' : 'json';
}

export function createLogger(options: LoggerOptions): Logger {
  const out = options.destination ?? process.stderr;
  const format = resolveFormat(options.format, out.isTTY);
  const stream: DestinationStream =
    format === 'pretty'
      ? pretty({
          destination: out === process.stderr ? 2 : (out as NodeJS.WritableStream),
          sync: true,
          colorize: out.isTTY === true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname,name',
        })
      : out === process.stderr
        ? pino.destination({ fd: 2, sync: true })
        : (out as DestinationStream);
  return pino(
    {
      name: 'owlk8s',
      level: options.level,
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"info" rather than 30: log readers should not need pino's numbers.
      formatters: { level: (label) => ({ level: label }) },
      // Headers of an export request carry API keys; never let one reach a log line.
      redact: { paths: ['headers.*', '*.headers.*', '*.*.headers.*'], censor: REDACTED },
    },
    stream,
  );
}

/** The logger the configuration asks for. */
export function loggerFromConfig(config: Config, destination?: LoggerOptions['destination']): Logger {
  return createLogger({ ...config.logging, destination });
}
