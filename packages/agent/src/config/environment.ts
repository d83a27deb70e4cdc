// Reads the environment's part of the configuration: each setting's OWLK8S_* variable, or when it
// is unset the first of its aliases that is set (the standard OTEL_* variables, the seed's
// `nodename`); the variables that decide several settings at once (OTEL_METRICS_EXPORTER,
// OTEL_SDK_DISABLED); and the seed's `debug` and `cleanBPFMap` switches. As the OpenTelemetry
// specification asks, a variable set to the empty string counts as unset. This is the only place
// the agent reads its configuration from the environment.
import type { ConfigProblem } from './config-error.ts';
import { checkValue } from './file-check.ts';
import { boolean } from './formats.ts';
import { SETTINGS } from './schema.ts';

/** The exporters OTEL_METRICS_EXPORTER can name (the specification's, less the deprecated `logging`). */
export type MetricsExporterName = 'otlp' | 'prometheus' | 'console';

export interface EnvValue {
  /** The variable the value was read from (an OWLK8S_* one or an alias). */
  readonly variable: string;
  /** The variable's text, which convict reads and coerces like the check did. */
  readonly text: string;
  readonly value: unknown;
}

export interface EnvironmentPart {
  /** Key path → value read from the environment, already checked. */
  readonly values: ReadonlyMap<string, EnvValue>;
  readonly problems: readonly ConfigProblem[];
  /** One-line notices, e.g. about obsolete seed variables. */
  readonly notices: readonly string[];
  /** OTEL_METRICS_EXPORTER's list (empty for `none`); undefined when it is unset. */
  readonly metricsExporters?: ReadonlySet<MetricsExporterName>;
  /** OTEL_SDK_DISABLED is true: nothing is exported. */
  readonly sdkDisabled: boolean;
}

export const METRICS_EXPORTER = 'OTEL_METRICS_EXPORTER';
const SDK_DISABLED = 'OTEL_SDK_DISABLED';
const EXPORTER_NAMES: readonly MetricsExporterName[] = ['otlp', 'prometheus', 'console'];
/** The settings OTEL_METRICS_EXPORTER turns on or off, by the name it uses for each. */
const ENABLED_BY: readonly [MetricsExporterName, string][] = [
  ['prometheus', 'export.prometheus.enabled'],
  ['console', 'export.stdout.enabled'],
];
const OTLP_ENDPOINT = 'export.otlp.endpoint';

const SEED_DEBUG = 'debug';
const SEED_CLEAN_MAP = 'cleanBPFMap';
/** Variables of renamed keys: an error says the new name (the file's keys: file-check.ts RENAMED). */
const RENAMED_VARIABLES: ReadonlyMap<string, { path: string; variable: string }> = new Map([
  [
    'OWLK8S_CAPTURE_MAPS_IN_FLIGHT',
    { path: 'capture.maps.connections', variable: 'OWLK8S_CAPTURE_MAPS_CONNECTIONS' },
  ],
]);

function get(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** OTEL_METRICS_EXPORTER: `none`, or a comma-separated list of otlp, prometheus, console. */
function metricsExporters(
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
): Set<MetricsExporterName> | undefined {
  const text = get(env, METRICS_EXPORTER);
  if (text === undefined) return undefined;
  const names = text.split(',').map((n) => n.trim().toLowerCase());
  const valid = names.every((n) => (EXPORTER_NAMES as readonly string[]).includes(n));
  if ((names.length === 1 && names[0] === 'none') || (valid && names.length > 0)) {
    return new Set(valid ? (names as MetricsExporterName[]) : []);
  }
  problems.push({
    origin: { kind: 'env', variable: METRICS_EXPORTER },
    path: 'export',
    found: `got ${JSON.stringify(text)}`,
    allowed:
      '"none", or a comma-separated list of "otlp", "prometheus" and "console" (the OpenTelemetry specification’s exporters)',
  });
  return undefined;
}

/** OTEL_SDK_DISABLED: true or false (also 1 or 0, in any case). */
function sdkDisabled(env: NodeJS.ProcessEnv, problems: ConfigProblem[]): boolean {
  const text = get(env, SDK_DISABLED);
  if (text === undefined) return false;
  const value = boolean.coerce(text);
  if (typeof value === 'boolean') return value;
  problems.push({
    origin: { kind: 'env', variable: SDK_DISABLED },
    path: 'export',
    found: `got ${JSON.stringify(text)}`,
    allowed: 'true (export nothing) or false',
  });
  return false;
}

/** Said when OTEL_METRICS_EXPORTER leaves out an endpoint that is set (in `where`). */
export function otlpOffNotice(env: NodeJS.ProcessEnv, where: string): string {
  return `OTLP export is off: ${METRICS_EXPORTER}=${get(env, METRICS_EXPORTER)} does not name otlp, so the endpoint in ${where} is not used`;
}

/**
 * A mapping setting read from every one of its variables that is set, merged key by key: the last
 * alias first, the OWLK8S_* variable last (its keys win). Named after the variables it came from.
 */
function mergedVariables(
  env: NodeJS.ProcessEnv,
  names: readonly string[],
  coerce: (text: string) => unknown,
  check: (name: string, value: unknown) => ConfigProblem[],
): { value: EnvValue; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const merged: Record<string, unknown> = {};
  const used: string[] = [];
  for (const name of [...names].reverse()) {
    const text = get(env, name);
    if (text === undefined) continue;
    const value = coerce(text);
    const found = check(name, value);
    if (found.length > 0) problems.push(...found);
    else {
      Object.assign(merged, value);
      used.push(name);
    }
  }
  const variable = used.reverse().join(' + ');
  return { value: { variable, text: JSON.stringify(merged), value: merged }, problems };
}

export function readEnvironment(env: NodeJS.ProcessEnv): EnvironmentPart {
  const values = new Map<string, EnvValue>();
  const problems: ConfigProblem[] = [];
  const notices: string[] = [];
  const exporters = metricsExporters(env, problems);
  for (const { path, env: own, setting } of SETTINGS) {
    const variable = [own, ...(setting.aliases ?? [])].find((name) => get(env, name) !== undefined);
    // OTEL_METRICS_EXPORTER without `otlp` turns OTLP off over the OTEL_EXPORTER_OTLP_* variables
    // and the file; only OWLK8S_EXPORT_OTLP_ENDPOINT wins over it.
    if (path === OTLP_ENDPOINT && exporters !== undefined && !exporters.has('otlp') && variable !== own) {
      values.set(path, { variable: METRICS_EXPORTER, text: '', value: '' });
      if (variable !== undefined) notices.push(otlpOffNotice(env, variable));
      continue;
    }
    if (variable === undefined) {
      // OTEL_METRICS_EXPORTER decides each exporter its own OWLK8S_* variable leaves open.
      const name = ENABLED_BY.find(([, p]) => p === path)?.[0];
      if (name !== undefined && exporters !== undefined) {
        const on = exporters.has(name);
        values.set(path, { variable: METRICS_EXPORTER, text: String(on), value: on });
      }
      continue;
    }
    if (setting.mergeVariables === true) {
      const merged = mergedVariables(
        env,
        [own, ...(setting.aliases ?? [])],
        (text) => setting.format.coerce(text),
        (name, value) => checkValue(setting, path, value, () => ({ kind: 'env', variable: name })),
      );
      problems.push(...merged.problems);
      if (merged.problems.length === 0) values.set(path, merged.value);
      continue;
    }
    const text = get(env, variable) as string;
    const value = setting.format.coerce(text);
    const found = checkValue(setting, path, value, () => ({ kind: 'env', variable }));
    if (found.length > 0) problems.push(...found);
    else values.set(path, { variable, text, value });
  }

  // The seed's `debug=true` turned on debug output; OWLK8S_LOGGING_LEVEL, when set, says more.
  const debug = get(env, SEED_DEBUG);
  if (debug !== undefined) {
    const t = debug.trim().toLowerCase();
    if (t === 'true' || t === '1') {
      if (!values.has('logging.level'))
        values.set('logging.level', { variable: SEED_DEBUG, text: 'debug', value: 'debug' });
    } else if (t !== 'false' && t !== '0') {
      problems.push({
        origin: { kind: 'env', variable: SEED_DEBUG },
        path: 'logging.level',
        found: `got ${JSON.stringify(debug)}`,
        allowed: 'true or false (the seed’s switch for debug logs; OWLK8S_LOGGING_LEVEL sets any level)',
      });
    }
  }
  for (const [old, now] of RENAMED_VARIABLES) {
    if (get(env, old) === undefined) continue;
    problems.push({
      origin: { kind: 'env', variable: old },
      path: now.path,
      found: `set (renamed: now ${now.variable})`,
      allowed: `${now.variable} instead`,
    });
  }
  if (env[SEED_CLEAN_MAP] !== undefined) {
    notices.push(
      'cleanBPFMap is obsolete and ignored: the kernel forgets a connection when it ends (FIN or RST) or idles for capture.idleTimeoutMs, so its map never needs cleaning',
    );
  }
  const disabled = sdkDisabled(env, problems);
  if (disabled) notices.push(`${SDK_DISABLED} is true: no metrics are exported`);
  return {
    values,
    problems,
    notices,
    sdkDisabled: disabled,
    ...(exporters ? { metricsExporters: exporters } : {}),
  };
}
