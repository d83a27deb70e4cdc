// Plain-text tables for `owlk8s targets`. The admin endpoint returns JSON records; a record with a
// list of `ips` (one state per IP, as the reconciler reports them) becomes one row per IP, anything
// else one row per record, with one column per field.
import { isMapping } from '../config/formats.ts';

function cellText(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(cellText).join(',');
  if (isMapping(value)) {
    // An interface {ifindex, name} reads best as its name; other objects as k=v pairs.
    if (typeof value.name === 'string') return value.name;
    return Object.entries(value)
      .map(([k, v]) => `${k}=${cellText(v)}`)
      .join(' ');
  }
  return String(value);
}

/** One flat row per IP when a record lists its IPs as objects; the record itself otherwise. */
export function targetRows(records: readonly unknown[]): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const r of records) {
    if (!isMapping(r)) {
      rows.push({ value: r });
      continue;
    }
    const { ips, ...rest } = r;
    if (Array.isArray(ips) && ips.length > 0 && ips.every(isMapping)) {
      for (const ip of ips) rows.push({ ...rest, ...ip });
    } else rows.push(r);
  }
  return rows;
}

/** Columns in first-seen order, headers in upper case, two spaces between columns. */
export function renderTable(rows: readonly Record<string, unknown>[]): string {
  const columns: string[] = [];
  for (const row of rows) for (const k of Object.keys(row)) if (!columns.includes(k)) columns.push(k);
  const cells = rows.map((row) => columns.map((c) => cellText(row[c])));
  const header = columns.map((c) => c.toUpperCase());
  const widths = columns.map((_, i) =>
    Math.max(header[i]?.length ?? 0, ...cells.map((r) => r[i]?.length ?? 0)),
  );
  const fmt = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[fmt(header), ...cells.map(fmt)].join('\n')}\n`;
}

/** The Service graph's edges (GET /graph) as rows: rate, error ratio and p99 formatted. */
export function graphRows(edges: readonly unknown[]): Record<string, unknown>[] {
  return edges.filter(isMapping).map((e) => ({
    caller: e.caller,
    callee: e.callee,
    kind: e.calleeKind,
    measured: e.measuredBy,
    'req/s': typeof e.rate === 'number' ? e.rate.toFixed(2) : e.rate,
    errors: typeof e.errorRatio === 'number' ? `${(e.errorRatio * 100).toFixed(1)}%` : e.errorRatio,
    p99: typeof e.p99Seconds === 'number' ? formatSeconds(e.p99Seconds) : undefined,
    requests: e.requests,
  }));
}

/** A duration in ms below 1 s, in s from there: `12.5ms`, `2.50s`. */
function formatSeconds(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(1)}ms` : `${s.toFixed(2)}s`;
}
