// The strict check of a configuration file's data against the schema, on the values exactly as
// written: an unknown key, a section that is not a mapping, a quoted number or a bad value are
// each reported with the key path, what was found and what is allowed.
import type { ConfigProblem, Origin } from './config-error.ts';
import { isMapping, show } from './formats.ts';
import { SCHEMA, type Section, type Setting } from './schema.ts';
import { checkStaticTargets } from './static-targets.ts';

export const REDACTED = '[redacted]';

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

/** Keys that were renamed, with their new path: the error says where the setting went. */
const RENAMED: Readonly<Record<string, string>> = {
  'export.seedMetrics': 'export.goLibraryMetrics',
  'capture.maps.inFlight': 'capture.maps.connections',
};

export function suggest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase().replace(/[-_]/g, '');
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = k.toLowerCase() === lower ? 0 : distance(key, k);
    if (d <= Math.max(2, Math.floor(k.length / 3)) && (best === undefined || d < best.d)) best = { k, d };
  }
  return best?.k;
}

export function describeSection(s: Section): string {
  return Object.keys(s.children).join(', ');
}

/** The problems of one value of a setting; `value` as written (file) or coerced (environment). */
export function checkValue(
  setting: Setting,
  path: string,
  value: unknown,
  origin: (path: string) => Origin,
): ConfigProblem[] {
  const failure = setting.format.check(value);
  const failures = failure
    ? [failure]
    : Array.isArray(value) && setting.format.name === 'owlk8s-static-targets'
      ? checkStaticTargets(value)
      : [];
  return failures.map((f) => {
    const at = `${path}${f.at ?? ''}`;
    const shown =
      setting.sensitive && !f.notSecret ? REDACTED : show(f.value === undefined ? value : f.value);
    return {
      origin: origin(at),
      path: at,
      found: `got ${shown}`,
      allowed: f.allowed ?? setting.format.allowed,
    };
  });
}

/**
 * Walks the file's data along the schema. Returns the problems, and the key paths of the settings
 * the file sets (for reporting where an effective value came from).
 */
export function checkFileData(
  data: unknown,
  origin: (path: string) => Origin,
): { problems: ConfigProblem[]; paths: Set<string> } {
  const problems: ConfigProblem[] = [];
  const paths = new Set<string>();
  if (data === null || data === undefined) return { problems, paths };
  if (!isMapping(data)) {
    problems.push({
      origin: origin(''),
      path: '',
      found: `got ${show(data)}`,
      allowed: `a mapping of sections: ${describeSection(SCHEMA)}`,
    });
    return { problems, paths };
  }
  const walk = (mapping: Record<string, unknown>, section: Section, prefix: string) => {
    for (const [key, value] of Object.entries(mapping)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const child = Object.hasOwn(section.children, key) ? section.children[key] : undefined;
      if (child === undefined) {
        const known = Object.keys(section.children);
        const renamed = RENAMED[path];
        const guess = suggest(key, known);
        problems.push({
          origin: origin(path),
          path,
          found:
            renamed !== undefined
              ? `unknown key (renamed: now ${renamed})`
              : guess === undefined
                ? 'unknown key'
                : `unknown key (did you mean ${JSON.stringify(guess)}?)`,
          allowed: `${prefix === '' ? 'the sections' : `the keys of ${prefix}`}: ${known.join(', ')}`,
        });
      } else if (child.kind === 'section') {
        // `capture:` with nothing under it is an empty section, not a mistake.
        if (value === null) continue;
        if (!isMapping(value)) {
          problems.push({
            origin: origin(path),
            path,
            found: `got ${show(value)}`,
            allowed: `a mapping with the keys ${describeSection(child)}`,
          });
        } else walk(value, child, path);
      } else {
        paths.add(path);
        problems.push(...checkValue(child, path, value, origin));
      }
    }
  };
  walk(data, SCHEMA, '');
  return { problems, paths };
}

/** The data without empty sections (`capture:` alone), which convict would take as a value. */
export function dropEmptySections(
  data: Record<string, unknown>,
  section: Section = SCHEMA,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    const child = section.children[key];
    if (child?.kind === 'section') {
      if (isMapping(value)) out[key] = dropEmptySections(value, child);
    } else out[key] = value;
  }
  return out;
}
