// Reads the environment's part of the configuration: each setting's OWLK8S_* variable, or when it
// is unset the first of its aliases that is set (the standard OTEL_* variables, the seed's
// `nodename`), and the seed's `debug` and `cleanBPFMap` switches. As the OpenTelemetry
// specification asks, a variable set to the empty string counts as unset.
import type { ConfigProblem } from './config-error.ts';
import { checkValue } from './file-check.ts';
import { SETTINGS } from './schema.ts';

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
}

const SEED_DEBUG = 'debug';
const SEED_CLEAN_MAP = 'cleanBPFMap';

function get(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

export function readEnvironment(env: NodeJS.ProcessEnv): EnvironmentPart {
  const values = new Map<string, EnvValue>();
  const problems: ConfigProblem[] = [];
  const notices: string[] = [];
  for (const { path, env: own, setting } of SETTINGS) {
    const variable = [own, ...(setting.aliases ?? [])].find((name) => get(env, name) !== undefined);
    if (variable === undefined) continue;
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
  if (env[SEED_CLEAN_MAP] !== undefined) {
    notices.push(
      'cleanBPFMap is obsolete and ignored: the in-flight map is an LRU hash that evicts its oldest entry instead of filling up',
    );
  }
  return { values, problems, notices };
}
