// Secrets never leave the process: the values of settings marked sensitive (OTLP headers, which
// carry API keys) and of any key whose name says it is a secret are replaced in everything the
// agent prints or logs. Header names stay visible: they tell which backend is configured.

import { REDACTED } from './file-check.ts';
import { isMapping } from './formats.ts';
import { SETTINGS } from './schema.ts';
import type { Config } from './types.ts';

const SECRET_NAME = /key|token|secret|password|passwd|authorization|credential/i;

const SENSITIVE_PATHS = new Set(SETTINGS.filter((s) => s.setting.sensitive).map((s) => s.path));
/** The schema's own keys are judged by the schema (`keyFile` holds a path, not a key). */
const SETTING_PATHS = new Set(SETTINGS.map((s) => s.path));

function redactValues(value: unknown): unknown {
  if (isMapping(value)) return Object.fromEntries(Object.keys(value).map((k) => [k, REDACTED]));
  return REDACTED;
}

function walk(value: unknown, path: string): unknown {
  if (SENSITIVE_PATHS.has(path)) return redactValues(value);
  if (Array.isArray(value)) return value.map((v, i) => walk(v, `${path}[${i}]`));
  if (!isMapping(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const at = path === '' ? k : `${path}.${k}`;
    out[k] =
      !SETTING_PATHS.has(at) && SECRET_NAME.test(k) && (typeof v === 'string' || isMapping(v))
        ? redactValues(v)
        : walk(v, at);
  }
  return out;
}

/**
 * A copy of the settings that is safe to print. What they resolve to (an AgentConfig's `pipeline`,
 * with the TLS key's text) is left out.
 */
export function redactConfig(config: Config): Config {
  const { pipeline: _, ...settings } = config as Config & { pipeline?: unknown };
  return walk(settings, '') as Config;
}

export { REDACTED };
