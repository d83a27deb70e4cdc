// Rules that involve more than one setting: each value can be fine on its own and the
// combination still be wrong (a static list while reading Kubernetes, every exporter off, two
// endpoints on one port).
import { type ConfigProblem, describeOrigin, type Origin } from './config-error.ts';
import { isHostPort } from './formats.ts';
import type { Config } from './types.ts';

export interface CrossCheckOptions {
  /** Whether an empty node name (with Kubernetes targets) is an error or only a notice. */
  readonly requireNodeName: boolean;
  /** Exporting nothing was asked for (OTEL_SDK_DISABLED, OTEL_METRICS_EXPORTER=none): no exporter is fine. */
  readonly noExportWanted: boolean;
}

const TLS_FILE_SETTINGS = ['caFile', 'certFile', 'keyFile'] as const;

/** The rules of export.otlp.tls: the endpoint's scheme decides, the settings must agree with it. */
function checkTls(
  otlp: Config['export']['otlp'],
  origin: (path: string) => Origin,
  add: (path: string, found: string, allowed: string) => void,
): void {
  const { tls, endpoint } = otlp;
  for (const [one, other] of [
    ['certFile', 'keyFile'],
    ['keyFile', 'certFile'],
  ] as const) {
    if (tls[one] !== '' && tls[other] === '') {
      add(
        `export.otlp.tls.${one}`,
        `got ${JSON.stringify(tls[one])} while export.otlp.tls.${other} is empty`,
        'both export.otlp.tls.certFile and export.otlp.tls.keyFile (mutual TLS needs the certificate and its key), or neither',
      );
    }
  }
  if (endpoint === '') return;
  const where = `${JSON.stringify(endpoint)} (export.otlp.endpoint, from ${describeOrigin(origin('export.otlp.endpoint'))})`;
  if (tls.insecure && /^https:\/\//i.test(endpoint)) {
    add(
      'export.otlp.tls.insecure',
      `got true with the https:// endpoint ${where}`,
      'false with an https:// endpoint: the scheme decides (https:// is TLS, http:// plain text); insecure only makes a gRPC endpoint given as host:port plain text, and never turns certificate checks off',
    );
    return;
  }
  const plain = /^http:\/\//i.test(endpoint)
    ? 'plain text (http://)'
    : isHostPort(endpoint) && tls.insecure
      ? 'plain text (host:port with export.otlp.tls.insecure: true)'
      : undefined;
  if (plain === undefined) return;
  for (const key of TLS_FILE_SETTINGS) {
    if (tls[key] === '') continue;
    add(
      `export.otlp.tls.${key}`,
      `got ${JSON.stringify(tls[key])} while the endpoint ${where} is ${plain}`,
      'TLS files only with TLS: an https:// endpoint, or for gRPC host:port without export.otlp.tls.insecure',
    );
  }
}

const ANY_ADDRESS = new Set(['0.0.0.0', '::', '[::]']);

function overlap(a: string, b: string): boolean {
  return a === b || ANY_ADDRESS.has(a) || ANY_ADDRESS.has(b);
}

export function crossCheck(
  config: Config,
  origin: (path: string) => Origin,
  options: CrossCheckOptions,
): { problems: ConfigProblem[]; notices: string[] } {
  const problems: ConfigProblem[] = [];
  const notices: string[] = [];
  const add = (path: string, found: string, allowed: string) =>
    problems.push({ origin: origin(path), path, found, allowed });
  const { targets, export: exp, admin, capture } = config;

  if (targets.source === 'kubernetes' && config.node.name === '') {
    const how =
      'node.name, OWLK8S_NODE_NAME (the DaemonSet sets it from spec.nodeName) or the seed’s nodename';
    if (options.requireNodeName) {
      add(
        'node.name',
        'empty',
        `the name of this node, required with targets.source "kubernetes": set ${how}`,
      );
    } else {
      notices.push(
        `node.name is empty: the agent needs it at start with targets.source "kubernetes" (set ${how})`,
      );
    }
  }
  if (targets.source === 'static' && targets.static.length === 0) {
    add('targets.static', 'an empty list', 'at least one target when targets.source is "static"');
  }
  if (targets.source === 'kubernetes' && targets.static.length > 0) {
    add(
      'targets.static',
      `${targets.static.length} target(s) while targets.source is "kubernetes"`,
      'a static list only with targets.source: static (it would be ignored)',
    );
  }
  if (capture.serverPeers && (targets.source !== 'kubernetes' || !targets.kubernetes.peers)) {
    add(
      'capture.serverPeers',
      targets.source === 'kubernetes'
        ? 'got true while targets.kubernetes.peers is false'
        : 'got true while targets.source is "static"',
      'false, or targets.source "kubernetes" with targets.kubernetes.peers true: callers are named from the peer index, which only the Kubernetes source keeps',
    );
  }
  const staticIps = targets.source === 'static' ? targets.static.length : 0;
  if (staticIps > capture.maps.targets) {
    add(
      'capture.maps.targets',
      `got ${capture.maps.targets}, fewer than the ${staticIps} static targets`,
      `at least ${staticIps}`,
    );
  }
  const largest = capture.buckets.at(-1);
  if (largest !== undefined && capture.requestTimeoutMs <= largest * 1000) {
    add(
      'capture.requestTimeoutMs',
      `got ${capture.requestTimeoutMs}, not above the largest capture.buckets boundary (${largest} s)`,
      `more than ${largest * 1000} (milliseconds), so that a timed-out request lands in the overflow bucket, never among answered ones`,
    );
  }
  if (capture.idleTimeoutMs < capture.requestTimeoutMs) {
    add(
      'capture.idleTimeoutMs',
      `got ${capture.idleTimeoutMs}, less than capture.requestTimeoutMs (${capture.requestTimeoutMs})`,
      `at least ${capture.requestTimeoutMs}: a connection must not be forgotten before its requests time out`,
    );
  }
  checkTls(exp.otlp, origin, add);
  if (exp.otlp.protocol === 'http/protobuf' && isHostPort(exp.otlp.endpoint)) {
    add(
      'export.otlp.endpoint',
      `got ${JSON.stringify(exp.otlp.endpoint)} (host:port) with protocol "http/protobuf"`,
      `an http:// or https:// URL such as "http://${exp.otlp.endpoint}" (host:port is gRPC’s short form)`,
    );
  }
  if (exp.otlp.endpoint === '' && !exp.prometheus.enabled && !exp.stdout.enabled && !options.noExportWanted) {
    add(
      'export',
      'every exporter off',
      'at least one of export.otlp.endpoint (a URL), export.prometheus.enabled: true, export.stdout.enabled: true',
    );
  }
  if (
    exp.prometheus.enabled &&
    exp.prometheus.port === admin.port &&
    overlap(exp.prometheus.host, admin.host)
  ) {
    add(
      'admin.port',
      `got ${admin.port}, the port of export.prometheus too`,
      'a port other than export.prometheus.port when both listen on the same address',
    );
  }
  return { problems, notices };
}
