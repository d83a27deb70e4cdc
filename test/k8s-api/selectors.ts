// Field and label selectors as the API server parses them. A selector that the real server would
// reject throws a SelectorError, which the server turns into a 400 Status.

import type { KubeObject } from './store.ts';

export class SelectorError extends Error {}

export interface FieldRequirement {
  readonly field: string;
  readonly op: '=' | '!=';
  readonly value: string;
}

/** Parses `a=b,c!=d` (also `==`); checks each field is one the resource type supports. */
export function parseFieldSelector(text: string, supported: readonly string[]): FieldRequirement[] {
  if (text.trim() === '') return [];
  return text.split(',').map((part) => {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
    if (!m) throw new SelectorError(`invalid field selector "${part}": expected field=value or field!=value`);
    const field = m[1]!;
    if (field !== 'metadata.name' && field !== 'metadata.namespace' && !supported.includes(field)) {
      throw new SelectorError(`field label not supported: ${field}`);
    }
    return { field, op: m[2] === '!=' ? '!=' : '=', value: m[3]! };
  });
}

/** The string value of a dotted field path, '' when absent (as the API server compares it). */
export function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[key];
  }
  if (cur === undefined || cur === null) return '';
  return String(cur);
}

export function matchesFields(obj: KubeObject, reqs: readonly FieldRequirement[]): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) === (r.op === '='));
}

export type LabelRequirement =
  | { readonly key: string; readonly op: 'in' | 'notin'; readonly values: readonly string[] }
  | { readonly key: string; readonly op: 'exists' | '!exists' };

/** Parses equality- and set-based label selectors: `a=b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`. */
export function parseLabelSelector(text: string): LabelRequirement[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (text[i] === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p): LabelRequirement => {
      let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p);
      if (m) {
        const values = m[3]!.split(',').map((v) => v.trim());
        return { key: m[1]!, op: m[2] === 'in' ? 'in' : 'notin', values };
      }
      m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(p);
      if (m) return { key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] };
      m = /^(!?)([\w./-]+)$/.exec(p);
      if (m) return { key: m[2]!, op: m[1] === '!' ? '!exists' : 'exists' };
      throw new SelectorError(`unable to parse requirement: "${p}"`);
    });
}

export function matchesLabels(obj: KubeObject, reqs: readonly LabelRequirement[]): boolean {
  const labels = obj.metadata.labels ?? {};
  return reqs.every((r) => {
    const v = labels[r.key];
    switch (r.op) {
      case 'exists':
        return v !== undefined;
      case '!exists':
        return v === undefined;
      case 'in':
        return v !== undefined && r.values.includes(v);
      default:
        return v === undefined || !r.values.includes(v);
    }
  });
}
