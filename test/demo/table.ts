// The demo's live table, computed from the agent's Prometheus endpoint only: what a user's own
// Prometheus would see. Rates and quantiles come from the difference between scrapes a few
// seconds apart, so they describe now, not the whole run.
import { type Buckets, histogramQuantile, type Sample } from './prom-text.ts';

const WORKLOAD_LABELS = [
  'k8s_deployment_name',
  'k8s_statefulset_name',
  'k8s_daemonset_name',
  'k8s_cronjob_name',
  'k8s_job_name',
];

export interface Row {
  readonly role: 'server' | 'client';
  readonly pod: string;
  readonly service: string;
  readonly workload: string;
  readonly total: number;
  readonly rps: number;
  readonly rate4xx: number;
  readonly rate5xx: number;
  /** Seconds; NaN when nothing happened in the window. */
  readonly p50: number;
  readonly p99: number;
}

interface Series {
  role: 'server' | 'client';
  pod: string;
  service: string;
  workload: string;
  total: number;
  c4xx: number;
  c5xx: number;
  buckets: Map<number, number>;
}

function summarise(samples: readonly Sample[]): Map<string, Series> {
  const out = new Map<string, Series>();
  for (const s of samples) {
    const m = /^http_(server|client)_request_duration_seconds_(count|bucket)$/.exec(s.name);
    if (!m) continue;
    const role = m[1] as 'server' | 'client';
    const pod = s.labels.k8s_pod_name ?? '?';
    const service = s.labels.k8s_service_name ?? '';
    const key = `${role}|${pod}|${service}`;
    let series = out.get(key);
    if (series === undefined) {
      const wl = WORKLOAD_LABELS.find((l) => s.labels[l] !== undefined);
      const workload = wl ? `${wl.slice(4, -5)}/${s.labels[wl]}` : 'pod';
      series = { role, pod, service, workload, total: 0, c4xx: 0, c5xx: 0, buckets: new Map() };
      out.set(key, series);
    }
    if (m[2] === 'count') {
      const code = Number(s.labels.http_response_status_code);
      series.total += s.value;
      if (code >= 400 && code < 500) series.c4xx += s.value;
      if (code >= 500) series.c5xx += s.value;
    } else {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      series.buckets.set(le, (series.buckets.get(le) ?? 0) + s.value);
    }
  }
  return out;
}

/** Keeps the last few scrapes and turns them into rows. */
export class LiveStats {
  readonly #history: { t: number; series: Map<string, Series> }[] = [];
  readonly #windowSeconds: number;

  constructor(windowSeconds = 5) {
    this.#windowSeconds = windowSeconds;
  }

  push(timeMs: number, samples: readonly Sample[]): void {
    this.#history.push({ t: timeMs, series: summarise(samples) });
    while (this.#history.length > this.#windowSeconds + 1) this.#history.shift();
  }

  rows(): Row[] {
    const last = this.#history.at(-1);
    const first = this.#history[0];
    if (last === undefined || first === undefined) return [];
    const dt = (last.t - first.t) / 1000;
    const rows: Row[] = [];
    for (const [key, now] of last.series) {
      const then = first === last ? undefined : first.series.get(key);
      const d = (a: number, b: number | undefined) => (dt > 0 ? (a - (b ?? 0)) / dt : 0);
      const buckets: Buckets = [...now.buckets].map(([le, c]) => ({
        le,
        count: c - (then?.buckets.get(le) ?? 0),
      }));
      rows.push({
        role: now.role,
        pod: now.pod,
        service: now.service,
        workload: now.workload,
        total: now.total,
        rps: d(now.total, then?.total),
        rate4xx: d(now.c4xx, then?.c4xx),
        rate5xx: d(now.c5xx, then?.c5xx),
        p50: histogramQuantile(0.5, buckets),
        p99: histogramQuantile(0.99, buckets),
      });
    }
    return rows.sort((a, b) => a.role.localeCompare(b.role) * -1 || a.pod.localeCompare(b.pod));
  }
}

function ms(seconds: number): string {
  if (Number.isNaN(seconds)) return '-';
  return seconds < 0.01 ? `${(seconds * 1000).toFixed(2)}ms` : `${(seconds * 1000).toFixed(1)}ms`;
}

/** Renders rows as a fixed-width text table. */
export function renderTable(rows: readonly Row[]): string {
  const head = ['SIDE', 'POD', 'SERVICE', 'WORKLOAD', 'REQ/S', '4XX/S', '5XX/S', 'P50', 'P99', 'TOTAL'];
  const body = rows.map((r) => [
    r.role === 'server' ? 'in' : 'out',
    r.pod,
    r.service || '-',
    r.workload,
    r.rps.toFixed(1),
    r.rate4xx.toFixed(1),
    r.rate5xx.toFixed(1),
    ms(r.p50),
    ms(r.p99),
    String(r.total),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const right = new Set([4, 5, 6, 7, 8, 9]);
  const line = (cells: string[]) =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}
