// Produces the effective configuration: the schema's defaults, then the YAML file, then the
// environment (OWLK8S_* variables, their OTEL_* and seed aliases). Every problem of every source is
// collected and thrown at once as a ConfigError, each naming where it is, the key path, what was
// found and what is allowed.
import convict from 'convict';
import { ConfigError, type ConfigProblem, type Origin } from './config-error.ts';
import { crossCheck } from './cross-checks.ts';
import { readEnvironment } from './environment.ts';
import { checkFileData, dropEmptySections } from './file-check.ts';
import { isMapping } from './formats.ts';
import { convictSchema, SETTINGS } from './schema.ts';
import { normaliseStaticTargets } from './static-targets.ts';
import type { Config } from './types.ts';
import { parseYaml, readYaml, type YamlFile } from './yaml-file.ts';

export interface LoadOptions {
  /** The YAML file; none means defaults and environment only. */
  readonly file?: string;
  /** The file's text instead of reading `file` (which then only names it in messages). */
  readonly text?: string;
  /** Lines of `file` before `text` (a configuration embedded in a ConfigMap), for line numbers. */
  readonly lineOffset?: number;
  /** Default: process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Whether an empty node name with Kubernetes targets is an error (default true, what `run`
   * needs) or a notice (`config validate` of a file whose node name comes from the pod's env).
   */
  readonly requireNodeName?: boolean;
}

export interface LoadedConfig {
  readonly config: Config;
  /** One-line notices to log at start (obsolete variables, settings left to the environment). */
  readonly notices: readonly string[];
  /** Where each setting's effective value came from. */
  originOf(path: string): Origin;
}

/** Loads, merges and checks; throws ConfigError listing every problem found. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const file = options.file;
  let yaml: YamlFile | undefined;
  if (file !== undefined)
    yaml = options.text === undefined ? readYaml(file) : parseYaml(options.text, file, options.lineOffset);

  const fileOrigin = (path: string): Origin =>
    file === undefined ? { kind: 'default' } : { kind: 'file', file, line: yaml?.lineOf(path) };
  const problems: ConfigProblem[] = [...(yaml?.problems ?? [])];
  const fileCheck = checkFileData(yaml?.data, fileOrigin);
  problems.push(...fileCheck.problems);
  const envPart = readEnvironment(env);
  problems.push(...envPart.problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const originOf = (path: string): Origin => {
    const fromEnv = envPart.values.get(path);
    if (fromEnv) return { kind: 'env', variable: fromEnv.variable };
    const setting = SETTINGS.find((s) => path === s.path || path.startsWith(`${s.path}[`));
    if (setting && fileCheck.paths.has(setting.path)) return fileOrigin(path);
    return file === undefined ? { kind: 'default' } : { kind: 'file', file };
  };

  // convict merges: it reads the OWLK8S_* variables itself (aliases already resolved to them).
  const convictEnv: Record<string, string> = {};
  for (const s of SETTINGS) {
    const v = envPart.values.get(s.path);
    if (v) convictEnv[s.env] = v.text;
  }
  const merged = convict<Config>(convictSchema() as convict.Schema<Config>, { env: convictEnv, args: [] });
  if (isMapping(yaml?.data)) merged.load(dropEmptySections(yaml.data));
  try {
    merged.validate({ allowed: 'strict' });
  } catch (error) {
    // Every value was checked above with the same formats; reaching here is a bug, said plainly.
    throw new ConfigError(
      (error as Error).message.split('\n').map((line) => ({
        origin: file === undefined ? { kind: 'default' } : { kind: 'file', file },
        path: '',
        found: `convict rejected it: ${line}`,
        allowed: 'what docs/configuration.md lists',
      })),
    );
  }
  const raw = merged.getProperties();
  const config: Config = {
    ...raw,
    targets: { ...raw.targets, static: normaliseStaticTargets(raw.targets.static) },
  };
  const cross = crossCheck(config, originOf, { requireNodeName: options.requireNodeName ?? true });
  if (cross.problems.length > 0) throw new ConfigError(cross.problems);
  return { config, notices: [...envPart.notices, ...cross.notices], originOf };
}
