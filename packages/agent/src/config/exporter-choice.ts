// What OTEL_METRICS_EXPORTER and OTEL_SDK_DISABLED decide once the sources are merged: the
// specification's endpoint when `otlp` is named and no endpoint is set anywhere, and the notices
// that say what they turned off. (The exporters' switches themselves are read with the rest of the
// environment, in environment.ts.)
import type { Origin } from './config-error.ts';
import { type EnvironmentPart, METRICS_EXPORTER, otlpOffNotice } from './environment.ts';
import { OTLP_DEFAULT_ENDPOINTS } from './schema.ts';
import type { Config } from './types.ts';

export interface ExporterChoice {
  readonly config: Config;
  /** Set when the endpoint is the specification's default. */
  readonly endpointOrigin?: Origin;
  readonly notices: readonly string[];
  /** No exporter was asked for (OTEL_SDK_DISABLED, OTEL_METRICS_EXPORTER=none): none is not an error. */
  readonly noExportWanted: boolean;
}

/**
 * `fileEndpoint`: where the file sets export.otlp.endpoint (`c.yaml:3`), for the notice when
 * OTEL_METRICS_EXPORTER turns it off.
 */
export function applyExporterChoice(
  config: Config,
  envPart: EnvironmentPart,
  env: NodeJS.ProcessEnv,
  fileEndpoint: string | undefined,
): ExporterChoice {
  const chosen = envPart.metricsExporters;
  const notices: string[] = [];
  let otlp = config.export.otlp;
  let endpointOrigin: Origin | undefined;
  if (chosen?.has('otlp') && otlp.endpoint === '') {
    const endpoint = otlp.protocol === 'grpc' ? OTLP_DEFAULT_ENDPOINTS.grpc : OTLP_DEFAULT_ENDPOINTS.http;
    otlp = { ...otlp, endpoint };
    endpointOrigin = { kind: 'env', variable: METRICS_EXPORTER };
  } else if (
    envPart.values.get('export.otlp.endpoint')?.variable === METRICS_EXPORTER &&
    fileEndpoint !== undefined
  ) {
    notices.push(otlpOffNotice(env, fileEndpoint));
  }
  const ex = config.export;
  const nothingOn = otlp.endpoint === '' && !ex.prometheus.enabled && !ex.stdout.enabled;
  if (!envPart.sdkDisabled && chosen?.size === 0 && nothingOn)
    notices.push(`${METRICS_EXPORTER} is none: no metrics are exported`);
  return {
    config: { ...config, export: { ...ex, otlp } },
    ...(endpointOrigin ? { endpointOrigin } : {}),
    notices,
    noExportWanted: envPart.sdkDisabled || chosen?.size === 0,
  };
}
