// The logging interface the package writes to: pino's calling convention (object first, then a
// message), so the agent can pass its pino logger as is.

export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const nothing = (): void => {};

/** The default: the package says nothing unless given a logger. */
export const silentLogger: Logger = { debug: nothing, info: nothing, warn: nothing, error: nothing };

/** One JSON line per entry on stderr, for scripts and examples without pino. */
export const consoleLogger: Logger = {
  debug: (obj, msg) => console.error(JSON.stringify({ level: 'debug', msg, ...obj })),
  info: (obj, msg) => console.error(JSON.stringify({ level: 'info', msg, ...obj })),
  warn: (obj, msg) => console.error(JSON.stringify({ level: 'warn', msg, ...obj })),
  error: (obj, msg) => console.error(JSON.stringify({ level: 'error', msg, ...obj })),
};
