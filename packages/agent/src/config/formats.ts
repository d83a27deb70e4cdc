// The value formats of the configuration schema. Each format knows three things: how to describe
// itself in the reference (`type`), what it allows (`allowed`, quoted in every error message), and
// how to read it from an environment variable (`coerce`, applied to strings only). Checking returns
// a failure instead of throwing, so the loader can name the file or variable, the key path, the
// value and what is allowed in one message. Each format is also registered with convict, whose own
// validation then runs as a second line of defence.
import { isIP } from 'node:net';
import convict from 'convict';

export interface FormatFailure {
  /** A suffix of the key path, e.g. `[2].ip`, when the failure is inside a list or a mapping. */
  readonly at?: string;
  /** The offending value when it is not the whole value. */
  readonly value?: unknown;
  /** What would be right, when more specific than the format's `allowed`. */
  readonly allowed?: string;
  /** The value shown is not secret even in a sensitive setting (a header's name, not its value). */
  readonly notSecret?: boolean;
}

export interface Format {
  readonly name: string;
  /** Short type name for the reference, e.g. `integer (1–65535)`. */
  readonly type: string;
  /** What the format accepts, phrased to follow "allowed:". */
  readonly allowed: string;
  /** Whether a YAML string is a valid spelling (an integer given as "8080" is not). */
  readonly check: (value: unknown) => FormatFailure | undefined;
  /** Turns an environment variable's text into a value; returns the text unchanged when it cannot. */
  readonly coerce: (text: string) => unknown;
}

const ok = undefined;
const fail: FormatFailure = {};

function define(format: Format): Format {
  convict.addFormat({
    name: format.name,
    validate: (value: unknown) => {
      const failure = format.check(value);
      if (failure)
        throw new Error(`${failure.at ?? ''} allowed: ${failure.allowed ?? format.allowed}`.trim());
    },
    coerce: format.coerce,
  });
  return format;
}

const identity = (text: string): unknown => text;

export const show = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
};

function splitList(text: string): string[] {
  return text.trim() === '' ? [] : text.split(',').map((s) => s.trim());
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const string = define({
  name: 'owlk8s-string',
  type: 'string',
  allowed: 'a string',
  check: (v) => (typeof v === 'string' ? ok : fail),
  coerce: identity,
});

export const filePath = define({
  name: 'owlk8s-file-path',
  type: 'file path',
  allowed: 'a file path, or "" for none',
  check: (v) => (typeof v === 'string' && !v.includes('\0') ? ok : fail),
  coerce: identity,
});

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const nodeName = define({
  name: 'owlk8s-node-name',
  type: 'node name',
  allowed:
    'a Kubernetes node name (lowercase letters, digits, "-" and ".", at most 253 characters), or "" to take it from the environment',
  check: (v) =>
    typeof v === 'string' && (v === '' || (v.length <= 253 && DNS_SUBDOMAIN.test(v))) ? ok : fail,
  coerce: identity,
});

export const boolean = define({
  name: 'owlk8s-boolean',
  type: 'boolean',
  allowed: 'true or false',
  check: (v) => (typeof v === 'boolean' ? ok : fail),
  coerce: (text) => {
    const t = text.trim().toLowerCase();
    if (t === 'true' || t === '1') return true;
    if (t === 'false' || t === '0') return false;
    return text;
  },
});

const formatsByName = new Map<string, Format>();

function memo(name: string, make: () => Format): Format {
  let f = formatsByName.get(name);
  if (f === undefined) {
    f = define(make());
    formatsByName.set(name, f);
  }
  return f;
}

/** An integer from min to max (inclusive); env text must be plain digits. */
export function integer(min: number, max: number): Format {
  return memo(`owlk8s-int-${min}-${max}`, () => ({
    name: `owlk8s-int-${min}-${max}`,
    type: `integer (${min}–${max})`,
    allowed: `an integer from ${min} to ${max}`,
    check: (v) => (Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? ok : fail),
    coerce: (text) => (/^\s*-?\d+\s*$/.test(text) ? Number(text) : text),
  }));
}

export const port = integer(1, 65535);

/** One of a fixed set of strings. */
export function oneOf(values: readonly string[]): Format {
  const name = `owlk8s-enum-${values.join('-')}`;
  return memo(name, () => ({
    name,
    type: values.map((v) => `\`${v}\``).join(' | '),
    allowed: `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`,
    check: (v) => (typeof v === 'string' && values.includes(v) ? ok : fail),
    coerce: identity,
  }));
}

/** Upper bound of bucket boundaries the kernel program holds (its aggregate value has one slot more). */
export const MAX_BUCKETS = 32;

export const buckets = define({
  name: 'owlk8s-buckets',
  type: 'list of seconds',
  allowed: `a list of 1 to ${MAX_BUCKETS} numbers of seconds, each greater than 0 and strictly increasing, e.g. [0.005, 0.01, 0.1, 1]`,
  check: (v) => {
    if (!Array.isArray(v) || v.length === 0 || v.length > MAX_BUCKETS) return fail;
    for (const [i, b] of v.entries()) {
      if (typeof b !== 'number' || !Number.isFinite(b) || b <= 0) {
        return { at: `[${i}]`, value: b, allowed: 'a number of seconds greater than 0' };
      }
      const prev = v[i - 1] as number | undefined;
      if (prev !== undefined && b <= prev) {
        return { at: `[${i}]`, value: b, allowed: `a boundary greater than the one before it (${prev})` };
      }
    }
    return ok;
  },
  coerce: (text) => {
    const parts = splitList(text);
    return parts.length > 0 && parts.every((p) => /^\d*\.?\d+(e-?\d+)?$/i.test(p)) ? parts.map(Number) : text;
  },
});

export const httpPorts = define({
  name: 'owlk8s-http-ports',
  type: '`"all"` or list of ports',
  allowed: '"all", or a list of distinct TCP ports from 1 to 65535, e.g. [80, 8080]',
  check: (v) => {
    if (v === 'all') return ok;
    if (!Array.isArray(v) || v.length === 0) return fail;
    const seen = new Set<unknown>();
    for (const [i, p] of v.entries()) {
      if (!Number.isInteger(p) || p < 1 || p > 65535) {
        return { at: `[${i}]`, value: p, allowed: 'a TCP port from 1 to 65535' };
      }
      if (seen.has(p)) return { at: `[${i}]`, value: p, allowed: 'each port once' };
      seen.add(p);
    }
    return ok;
  },
  coerce: (text) => {
    if (text.trim() === 'all') return 'all';
    const parts = splitList(text);
    return parts.length > 0 && parts.every((p) => /^\d+$/.test(p)) ? parts.map(Number) : text;
  },
});

// A Kubernetes label key: an optional DNS-subdomain prefix and "/", then a name of at most 63
// characters made of alphanumerics, "-", "_" and ".", starting and ending alphanumeric.
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

function isLabelKey(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash === -1) return LABEL_NAME.test(s);
  const prefix = s.slice(0, slash);
  return prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix) && LABEL_NAME.test(s.slice(slash + 1));
}

export const labelKeys = define({
  name: 'owlk8s-label-keys',
  type: 'list of label keys',
  allowed: 'a list of Kubernetes label keys, e.g. ["app.kubernetes.io/version", "team"]',
  check: (v) => {
    if (!Array.isArray(v)) return fail;
    for (const [i, k] of v.entries()) {
      if (typeof k !== 'string' || !isLabelKey(k)) {
        return {
          at: `[${i}]`,
          value: k,
          allowed:
            'a label key: an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" or "."',
        };
      }
    }
    return ok;
  },
  coerce: splitList,
});

// RFC 9110 token characters: what an HTTP header name (and a method) may contain.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The OpenTelemetry environment format of headers and resource attributes:
 * `name=value,name2=value2`, values URL-encoded. Returns the text unchanged when it is not that.
 */
function keyValues(text: string): unknown {
  const out: Record<string, string> = {};
  for (const pair of splitList(text)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return text;
    try {
      out[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      return text;
    }
  }
  return out;
}

export const headers = define({
  name: 'owlk8s-headers',
  type: 'mapping of header → value (secret)',
  allowed: 'a mapping of HTTP header names to string values, e.g. {x-honeycomb-team: "..."}',
  check: (v) => {
    if (!isPlainObject(v)) return fail;
    for (const [name, value] of Object.entries(v)) {
      if (!HEADER_NAME.test(name)) {
        return {
          at: `.${name}`,
          value: name,
          allowed: "a header name of letters, digits and !#$%&'*+-.^_`|~",
          notSecret: true,
        };
      }
      if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
        return { at: `.${name}`, allowed: 'a string value on one line' };
      }
    }
    return ok;
  },
  // The OTLP exporters' own environment format: `name=value,name2=value2`, values URL-encoded.
  coerce: keyValues,
});

export const resourceAttributes = define({
  name: 'owlk8s-resource-attributes',
  type: 'mapping of attribute → value',
  allowed:
    'a mapping of attribute names to string values, e.g. {k8s.cluster.name: prod, deployment.environment.name: eu-1}',
  check: (v) => {
    if (!isPlainObject(v)) return fail;
    for (const [name, value] of Object.entries(v)) {
      if (name.trim() === '' || /[,=]/.test(name)) {
        return { at: `.${name}`, value: name, allowed: 'an attribute name, without "," or "="' };
      }
      if (typeof value !== 'string') return { at: `.${name}`, value, allowed: 'a string value' };
    }
    return ok;
  },
  // OTEL_RESOURCE_ATTRIBUTES' format: `key=value,key2=value2`, URL-encoded.
  coerce: keyValues,
});

export const httpMethods = define({
  name: 'owlk8s-http-methods',
  type: 'list of HTTP methods',
  allowed: 'a list of HTTP method names (case-sensitive tokens), e.g. ["GET", "POST"]',
  check: (v) => {
    if (!Array.isArray(v)) return fail;
    for (const [i, m] of v.entries()) {
      if (typeof m !== 'string' || !HEADER_NAME.test(m)) {
        return { at: `[${i}]`, value: m, allowed: "a method name of letters, digits and !#$%&'*+-.^_`|~" };
      }
    }
    return ok;
  },
  coerce: splitList,
});

/**
 * Aggregation temporality. The environment (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE)
 * takes the specification's values in any case, `lowmemory` as `delta`: it makes counters and
 * histograms delta, which is all the agent exports with a temporality. The file takes the two
 * values as written.
 */
export const temporality = define({
  name: 'owlk8s-temporality',
  type: '`cumulative` | `delta`',
  allowed: 'one of "cumulative", "delta" (in the environment also "lowmemory", in any case)',
  check: (v) => (v === 'cumulative' || v === 'delta' ? ok : fail),
  coerce: (text) => {
    const t = text.trim().toLowerCase();
    if (t === 'cumulative' || t === 'delta') return t;
    return t === 'lowmemory' ? 'delta' : text;
  },
});

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?):\d{1,5}$/;

/** True when text is a host:port without a scheme (gRPC's short form). */
export function isHostPort(text: string): boolean {
  return HOST_PORT.test(text);
}

export const endpoint = define({
  name: 'owlk8s-endpoint',
  type: 'URL',
  allowed:
    'an http:// or https:// URL such as "http://otel-collector:4317", host:port for gRPC, or "" for off',
  check: (v) => {
    if (typeof v !== 'string') return fail;
    if (v === '' || isHostPort(v)) return ok;
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' ? ok : fail;
    } catch {
      return fail;
    }
  },
  coerce: identity,
});

const HOSTNAME = /^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/;

export const host = define({
  name: 'owlk8s-host',
  type: 'address',
  allowed:
    'an IP address to listen on (e.g. "127.0.0.1", "0.0.0.0", "::") or a host name such as "localhost"',
  check: (v) => (typeof v === 'string' && (isIP(v) !== 0 || HOSTNAME.test(v)) ? ok : fail),
  coerce: identity,
});

export const urlPath = define({
  name: 'owlk8s-url-path',
  type: 'URL path',
  allowed: 'a URL path starting with "/", without spaces, "?" or "#", e.g. "/metrics"',
  check: (v) => (typeof v === 'string' && /^\/[^\s?#]*$/.test(v) ? ok : fail),
  coerce: identity,
});

/** The static target list; its entries are checked one by one in static-targets.ts. */
export const staticTargets = define({
  name: 'owlk8s-static-targets',
  type: 'list of targets',
  allowed: 'a list of targets, each a mapping such as {ip: "198.18.0.2", interface: "veth1", name: "web"}',
  check: (v) => (Array.isArray(v) ? ok : fail),
  coerce: (text) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  },
});

export function isMapping(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value);
}
