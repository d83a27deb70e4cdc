// `owlk8s config validate FILE` and `owlk8s config print [FILE]`.
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { ConfigError, type ConfigProblem } from '../../config/config-error.ts';
import { configMapEntries } from '../../config/configmap.ts';
import { checkConfig, type LoadedConfig } from '../../config/load.ts';
import { redactConfig } from '../../config/redact.ts';
import type { Config } from '../../config/types.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { type CliIo, line, UsageError } from '../io.ts';

export interface ConfigCommandArgs {
  readonly action: string | undefined;
  readonly file: string | undefined;
  readonly json: boolean;
  readonly ignoreEnv: boolean;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // loadConfig says why
  }
}

/**
 * Checks a configuration file, or each `*.yaml` entry of a ConfigMap manifest (with the manifest's
 * line numbers). The node name usually comes from the pod's environment, so its absence is only
 * a notice here, and the TLS files are mounted in the pod, so they are not read. Throws one
 * ConfigError with the problems of every entry.
 */
function validate(file: string, env: NodeJS.ProcessEnv): { label: string; loaded: LoadedConfig<Config> }[] {
  const text = readText(file);
  const entries = text === undefined ? undefined : configMapEntries(text);
  if (entries === undefined)
    return [{ label: file, loaded: checkConfig({ file, env, requireNodeName: false }) }];
  if (entries.length === 0) {
    throw new ConfigError([
      {
        origin: { kind: 'file', file },
        path: 'data',
        found: 'no entry named *.yaml',
        allowed: 'a ConfigMap whose data holds the configuration under a key such as owlk8s.yaml',
      },
    ]);
  }
  const results: { label: string; loaded: LoadedConfig<Config> }[] = [];
  const problems: ConfigProblem[] = [];
  for (const e of entries) {
    const label = e.lineOffset === undefined ? `${file} (data.${e.key})` : file;
    try {
      const loaded = checkConfig({
        file: label,
        text: e.text,
        lineOffset: e.lineOffset,
        env,
        requireNodeName: false,
      });
      results.push({ label: `${file} (data.${e.key})`, loaded });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return results;
}

/** Throws ConfigError (exit 2) when the configuration does not validate. */
export function configCommand(args: ConfigCommandArgs, io: CliIo): number {
  const env = args.ignoreEnv ? {} : io.env;
  if (args.action === 'validate') {
    if (args.file === undefined)
      throw new UsageError('config validate: which file? Usage: owlk8s config validate FILE');
    for (const { label, loaded } of validate(args.file, env)) {
      for (const n of loaded.notices) line(io.stderr, `note: ${n}`);
      line(io.stdout, `${label}: valid`);
    }
    return EXIT_OK;
  }
  if (args.action === 'print') {
    const loaded = checkConfig({ file: args.file, env, requireNodeName: false });
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
