// Produces the effective configuration: the schema's defaults, then the YAML file, then the
// environment (OWLK8S_* variables, their OTEL_* and seed aliases), then what those resolve to for
// the metrics pipeline (resolve.ts). Every problem of every source is collected and thrown at once
// as a ConfigError, each naming where it is, the key path, what was found and what is allowed.
import convict from 'convict';
import { ConfigError, type ConfigProblem, describeOrigin, type Origin } from './config-error.ts';
import { crossCheck } from './cross-checks.ts';
import { readEnvironment } from './environment.ts';
import { applyExporterChoice } from './exporter-choice.ts';
import { checkFileData, dropEmptySections } from './file-check.ts';
import { isMapping } from './formats.ts';
import { resolvePipeline } from './resolve.ts';
import { convictSchema, SETTINGS } from './schema.ts';
import { normaliseStaticTargets } from './static-targets.ts';
import type { AgentConfig, Config } from './types.ts';
import { parseYaml, readYaml, type YamlFile } from './yaml-file.ts';

/** The settings whose value is a mapping (their default is one). */
const MAPPINGS: ReadonlySet<string> = new Set(
  SETTINGS.filter((s) => isMapping(s.setting.default)).map((s) => s.path),
);

function valueAt(data: Record<string, unknown>, path: string): unknown {
  let node: unknown = data;
  for (const key of path.split('.')) node = isMapping(node) ? node[key] : undefined;
  return node;
}

function setAt(data: object, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = data as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[keys[keys.length - 1] as string] = structuredClone(value);
}

/** A copy of the file's data without the given settings. */
function withoutPaths(data: Record<string, unknown>, paths: ReadonlySet<string>): Record<string, unknown> {
  const copy = structuredClone(data);
  for (const path of paths) {
    const keys = path.split('.');
    const parent = valueAt(copy, keys.slice(0, -1).join('.'));
    if (isMapping(parent)) delete parent[keys[keys.length - 1] as string];
  }
  return copy;
}

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

export interface LoadedConfig<C extends Config = AgentConfig> {
  /** loadConfig: the settings and the pipeline they resolve to; checkConfig: the settings. */
  readonly config: C;
  /** One-line notices to log at start (obsolete variables, settings left to the environment). */
  readonly notices: readonly string[];
  /** Where each setting's effective value came from. */
  originOf(path: string): Origin;
}

/**
 * Loads, merges, checks and resolves, reading the TLS files: what `owlk8s run` gives runAgent.
 * Throws ConfigError listing every problem found.
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  return load(options, true);
}

/**
 * Loads, merges and checks like loadConfig, without reading the TLS files (usually mounted only in
 * the pod): `owlk8s config validate` and `config print`. Throws ConfigError.
 */
export function checkConfig(options: LoadOptions = {}): LoadedConfig<Config> {
  const { config, notices, originOf } = load(options, false);
  const { pipeline: _, ...settings } = config;
  return { config: settings, notices, originOf };
}

function load(options: LoadOptions, readFiles: boolean): LoadedConfig {
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

  // Set when OTEL_METRICS_EXPORTER names otlp and no endpoint is set anywhere.
  let endpointOrigin: Origin | undefined;
  const originOf = (path: string): Origin => {
    if (path === 'export.otlp.endpoint' && endpointOrigin) return endpointOrigin;
    const fromEnv = envPart.values.get(path);
    if (fromEnv) return { kind: 'env', variable: fromEnv.variable };
    const setting = SETTINGS.find((s) => path === s.path || path.startsWith(`${s.path}[`));
    if (setting && fileCheck.paths.has(setting.path)) return fileOrigin(path);
    return file === undefined ? { kind: 'default' } : { kind: 'file', file };
  };

  // convict merges: it reads the OWLK8S_* variables itself (aliases already resolved to them).
  // Mappings (headers, resource attributes) are merged here instead: convict splits key paths on
  // dots, so it cannot hold a key such as k8s.cluster.name.
  const convictEnv: Record<string, string> = {};
  for (const s of SETTINGS) {
    const v = envPart.values.get(s.path);
    if (v && !MAPPINGS.has(s.path)) convictEnv[s.env] = v.text;
  }
  const merged = convict<Config>(convictSchema() as convict.Schema<Config>, { env: convictEnv, args: [] });
  const fileData = isMapping(yaml?.data) ? dropEmptySections(yaml.data) : undefined;
  if (fileData !== undefined) merged.load(withoutPaths(fileData, MAPPINGS));
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
  for (const path of MAPPINGS) {
    const fromEnv = envPart.values.get(path);
    const fromFile = fileData === undefined ? undefined : valueAt(fileData, path);
    setAt(raw, path, fromEnv !== undefined ? fromEnv.value : (fromFile ?? {}));
  }
  // What OTEL_METRICS_EXPORTER and OTEL_SDK_DISABLED decide beyond single settings.
  const choice = applyExporterChoice(
    { ...raw, targets: { ...raw.targets, static: normaliseStaticTargets(raw.targets.static) } },
    envPart,
    env,
    fileCheck.paths.has('export.otlp.endpoint')
      ? describeOrigin(fileOrigin('export.otlp.endpoint'))
      : undefined,
  );
  const config = choice.config;
  if (choice.endpointOrigin) endpointOrigin = choice.endpointOrigin;
  const notices = [...envPart.notices, ...choice.notices];
  const cross = crossCheck(config, originOf, {
    requireNodeName: options.requireNodeName ?? true,
    noExportWanted: choice.noExportWanted,
  });
  if (cross.problems.length > 0) throw new ConfigError(cross.problems);
  const isSet = (path: string) => envPart.values.has(path) || fileCheck.paths.has(path);
  const resolved = resolvePipeline(config, {
    originOf,
    isSet,
    sdkDisabled: envPart.sdkDisabled,
    readFiles,
  });
  if (resolved.problems.length > 0) throw new ConfigError(resolved.problems);
  return {
    config: { ...config, pipeline: resolved.pipeline },
    notices: [...notices, ...cross.notices],
    originOf,
  };
}
