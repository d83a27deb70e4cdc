// `owlk8s config validate FILE` and `owlk8s config print [FILE]`.
import { stringify } from 'yaml';
import { loadConfig } from '../../config/load.ts';
import { redactConfig } from '../../config/redact.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { type CliIo, line, UsageError } from '../io.ts';

export interface ConfigCommandArgs {
  readonly action: string | undefined;
  readonly file: string | undefined;
  readonly json: boolean;
  readonly ignoreEnv: boolean;
}

/** Throws ConfigError (exit 2) when the configuration does not validate. */
export function configCommand(args: ConfigCommandArgs, io: CliIo): number {
  const env = args.ignoreEnv ? {} : io.env;
  if (args.action === 'validate') {
    if (args.file === undefined)
      throw new UsageError('config validate: which file? Usage: owlk8s config validate FILE');
    // The node name usually comes from the pod's environment, so a file without it is valid here.
    const loaded = loadConfig({ file: args.file, env, requireNodeName: false });
    for (const n of loaded.notices) line(io.stderr, `note: ${n}`);
    line(io.stdout, `${args.file}: valid`);
    return EXIT_OK;
  }
  if (args.action === 'print') {
    const loaded = loadConfig({ file: args.file, env, requireNodeName: false });
    for (const n of loaded.notices) line(io.stderr, `note: ${n}`);
    const safe = redactConfig(loaded.config);
    io.stdout.write(args.json ? `${JSON.stringify(safe, null, 2)}\n` : stringify(safe));
    return EXIT_OK;
  }
  throw new UsageError(
    args.action === undefined
      ? 'config: which action? Use "config validate FILE" or "config print [FILE]"'
      : `config: unknown action ${JSON.stringify(args.action)}; use "validate" or "print"`,
  );
}
