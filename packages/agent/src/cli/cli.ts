// The command line: parses argv, runs one command, returns the exit code. Never throws: every
// error becomes a message on standard error and its documented exit code.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/config-error.ts';
import { configCommand } from './commands/config.ts';
import { runCommand } from './commands/run.ts';
import { targetsCommand } from './commands/targets.ts';
import { EXIT_OK, EXIT_USAGE, exitCodeFor } from './exit-codes.ts';
import { COMMAND_HELP, MAIN_HELP } from './help.ts';
import { type CliIo, line, UsageError } from './io.ts';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

const OPTIONS: Readonly<Record<string, Options>> = {
  run: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
  targets: {
    url: { type: 'string', short: 'u' },
    config: { type: 'string', short: 'c' },
    json: { type: 'boolean' },
    graph: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  config: {
    config: { type: 'string', short: 'c' },
    json: { type: 'boolean' },
    'ignore-env': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
};

const MAX_POSITIONALS: Readonly<Record<string, number>> = { run: 0, targets: 0, config: 2 };

function parse(command: string, args: string[]) {
  try {
    const parsed = parseArgs({ args, options: OPTIONS[command], allowPositionals: true, strict: true });
    if (parsed.positionals.length > (MAX_POSITIONALS[command] ?? 0)) {
      throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals.at(-1))}`);
    }
    return parsed;
  } catch (error) {
    const msg = (error as Error).message.replace(/\. To specify a positional.*$/s, '');
    throw new UsageError(`${command}: ${msg}`);
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help') {
    io.stdout.write(MAIN_HELP);
    return first === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (first === '-v' || first === '--version') {
    line(io.stdout, version());
    return EXIT_OK;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) io.stdout.write(MAIN_HELP);
    else if (COMMAND_HELP[topic] !== undefined) io.stdout.write(COMMAND_HELP[topic]);
    else
      throw new UsageError(
        `help: unknown command ${JSON.stringify(topic)}; commands: ${Object.keys(COMMAND_HELP).join(', ')}`,
      );
    return EXIT_OK;
  }
  if (OPTIONS[first] === undefined) {
    throw new UsageError(
      `unknown command ${JSON.stringify(first)}; commands: ${Object.keys(OPTIONS).join(', ')}, help (see owlk8s --help)`,
    );
  }
  const { values: parsedValues, positionals } = parse(first, rest);
  const values = parsedValues as Record<string, string | boolean | undefined>;
  const str = (k: string) => values[k] as string | undefined;
  const flag = (k: string) => values[k] === true;
  if (flag('help')) {
    io.stdout.write(COMMAND_HELP[first] ?? MAIN_HELP);
    return EXIT_OK;
  }
  switch (first) {
    case 'run':
      return runCommand(str('config'), io);
    case 'targets':
      return targetsCommand(
        { url: str('url'), file: str('config'), json: flag('json'), graph: flag('graph') },
        io,
      );
    default: {
      const [action, file] = positionals;
      if (file !== undefined && str('config') !== undefined) {
        throw new UsageError('config: give the file once, as FILE or as --config FILE');
      }
      return configCommand(
        { action, file: file ?? str('config'), json: flag('json'), ignoreEnv: flag('ignore-env') },
        io,
      );
    }
  }
}

/** Runs one command line; resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    if (error instanceof ConfigError) {
      line(io.stderr, error.message);
    } else if (error instanceof UsageError) {
      line(io.stderr, `owlk8s ${error.message}`);
    } else {
      line(io.stderr, `owlk8s: ${(error as Error)?.message ?? String(error)}`);
    }
    return exitCodeFor(error);
  }
}
