// The last step of loading: the checked settings become what the metrics pipeline is given. The
// OTLP URL gets its final form (scheme, `/v1/metrics`), the TLS files are read, the agent's
// resource and the export timeout are worked out, the Prometheus endpoint's web configuration and
// token files are loaded to check them, and OTEL_SDK_DISABLED turns every exporter off.
// Nothing after this reads the environment or a file for the export.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { fileErrorReason, loadSecurity } from '@owlk8s/otel';
import type { ConfigProblem, Origin } from './config-error.ts';
import { otlpExporterUrl } from './otlp-endpoint.ts';
import type { Config, ResolvedPipeline, ResolvedTls } from './types.ts';

export interface ResolveOptions {
  /** Where each setting's value came from. */
  readonly originOf: (path: string) => Origin;
  /** Whether a setting was set (in the file or the environment) rather than left at its default. */
  readonly isSet: (path: string) => boolean;
  /** OTEL_SDK_DISABLED: no exporter at all. */
  readonly sdkDisabled: boolean;
  /**
   * Whether to read the files: OTLP TLS, the Prometheus endpoint's web configuration and token
   * (`run`). `config validate` and `config print` do not: the files
   * are usually mounted only in the pod. Without them the pipeline has no TLS material.
   */
  readonly readFiles: boolean;
}

const TLS_FILES = [
  ['caFile', 'ca', 'a readable PEM file of one or more CA certificates'],
  ['certFile', 'cert', 'a readable PEM file of the client certificate'],
  ['keyFile', 'key', 'a readable PEM file of the client certificate’s private key'],
] as const;

/** Reads the TLS files; each problem names the setting, the file and the reason. */
function readTls(
  tls: Config['export']['otlp']['tls'],
  originOf: (path: string) => Origin,
  problems: ConfigProblem[],
): ResolvedTls | undefined {
  const out: { ca?: string; cert?: string; key?: string } = {};
  const before = problems.length;
  for (const [setting, field, allowed] of TLS_FILES) {
    const file = tls[setting];
    if (file === '') continue;
    const path = `export.otlp.tls.${setting}`;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      problems.push({
        origin: originOf(path),
        path,
        found: `${JSON.stringify(file)} cannot be read (${fileErrorReason(error as NodeJS.ErrnoException)})`,
        allowed,
      });
      continue;
    }
    if (!text.includes('-----BEGIN ')) {
      problems.push({
        origin: originOf(path),
        path,
        found: `${JSON.stringify(file)} is not PEM (no "-----BEGIN" line)`,
        allowed,
      });
      continue;
    }
    out[field] = text;
  }
  if (problems.length > before) return undefined;
  // What Node would refuse when connecting (a key that does not match the certificate, a PEM
  // block that does not parse) is refused now, at start.
  try {
    createSecureContext(out);
  } catch (error) {
    const path = out.cert !== undefined ? 'export.otlp.tls.certFile' : 'export.otlp.tls.caFile';
    problems.push({
      origin: originOf(path),
      path,
      found: `the TLS files are not usable together (${(error as Error).message})`,
      allowed: 'a CA certificate, and a client certificate with its own private key, in PEM',
    });
    return undefined;
  }
  return out.ca === undefined && out.cert === undefined ? undefined : out;
}

function prometheus(p: Config['export']['prometheus']): NonNullable<ResolvedPipeline['prometheus']> {
  return {
    host: p.host,
    port: p.port,
    path: p.path,
    ...(p.webConfigFile === '' ? {} : { webConfigFile: p.webConfigFile }),
    ...(p.bearerTokenFile === '' ? {} : { bearerTokenFile: p.bearerTokenFile }),
    maxConcurrentScrapes: p.maxConcurrentScrapes,
  };
}

/**
 * The endpoint's web configuration and token files, loaded as the endpoint will load them: each
 * problem names the setting, the file, the key in it, what was found and what is allowed.
 */
function checkPrometheusFiles(
  p: Config['export']['prometheus'],
  originOf: (path: string) => Origin,
): ConfigProblem[] {
  const { problems } = loadSecurity({
    ...(p.webConfigFile === '' ? {} : { webConfigFile: p.webConfigFile }),
    ...(p.bearerTokenFile === '' ? {} : { bearerTokenFile: p.bearerTokenFile }),
  });
  return problems.map((problem) => {
    const path = `export.prometheus.${problem.option}`;
    return {
      origin: originOf(path),
      path,
      found: `${JSON.stringify(problem.file)}${problem.path === '' ? '' : ` at ${problem.path}`}: ${problem.found}`,
      allowed: problem.allowed,
    };
  });
}

export function resolvePipeline(
  config: Config,
  options: ResolveOptions,
): { pipeline: ResolvedPipeline; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const ex = config.export;
  const on = !options.sdkDisabled;
  const url = on ? otlpExporterUrl(ex.otlp, options.originOf('export.otlp.endpoint')) : undefined;
  let tls: ResolvedTls | undefined;
  if (url?.startsWith('https://') && options.readFiles)
    tls = readTls(ex.otlp.tls, options.originOf, problems);
  const serviceName =
    options.isSet('export.resource.serviceName') || ex.resource.attributes['service.name'] === undefined
      ? ex.resource.serviceName
      : ex.resource.attributes['service.name'];
  if (on && ex.prometheus.enabled && options.readFiles)
    problems.push(...checkPrometheusFiles(ex.prometheus, options.originOf));
  const pipeline: ResolvedPipeline = {
    ...(url === undefined
      ? {}
      : {
          otlp: {
            protocol: ex.otlp.protocol,
            url,
            headers: ex.otlp.headers,
            compression: ex.otlp.compression,
            timeoutMs: ex.otlp.timeoutMs,
            ...(tls === undefined ? {} : { tls }),
            temporality: ex.temporality,
          },
        }),
    ...(on && ex.prometheus.enabled ? { prometheus: prometheus(ex.prometheus) } : {}),
    ...(on && ex.stdout.enabled ? { stdout: { temporality: ex.temporality } } : {}),
    intervalMs: ex.intervalMs,
    timeoutMs: Math.min(ex.timeoutMs, ex.intervalMs),
    cardinalityLimit: ex.cardinalityLimit,
    cardinalityLimitPerPod: ex.cardinalityLimitPerPod,
    peersPerPod: ex.peersPerPod,
    collapseUnknownClientPorts: ex.collapseUnknownClientPorts,
    goLibraryMetrics: ex.goLibraryMetrics,
    resource: { ...ex.resource.attributes, 'service.name': serviceName },
    knownMethods: ex.knownMethods,
  };
  return { pipeline, problems };
}
