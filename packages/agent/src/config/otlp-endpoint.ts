// The URL an OTLP exporter is given, from the configured endpoint. The configuration accepts what
// users write (a base URL for OTLP/HTTP, `host:port` for gRPC); the exporters of @owlk8s/otel want
// a full URL: `http(s)://host:port` for gRPC, the metrics URL (`…/v1/metrics`) for OTLP/HTTP.
import type { Origin } from './config-error.ts';
import { isHostPort } from './formats.ts';
import type { Config } from './types.ts';

const METRICS_PATH = 'v1/metrics';

/**
 * The exporter URL, or undefined when OTLP is off. `origin` is where the endpoint came from
 * (LoadedConfig.originOf('export.otlp.endpoint')): the generic OTEL_EXPORTER_OTLP_ENDPOINT is a
 * base URL to which the OpenTelemetry specification always appends `v1/metrics`.
 */
export function otlpExporterUrl(otlp: Config['export']['otlp'], origin?: Origin): string | undefined {
  const endpoint = otlp.endpoint;
  if (endpoint === '') return undefined;
  if (otlp.protocol === 'grpc') {
    return isHostPort(endpoint) ? `${otlp.tls.insecure ? 'http' : 'https'}://${endpoint}` : endpoint;
  }
  const url = new URL(endpoint);
  const generic = origin?.kind === 'env' && origin.variable === 'OTEL_EXPORTER_OTLP_ENDPOINT';
  if (generic || url.pathname === '/' || url.pathname === '') {
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/${METRICS_PATH}`;
  }
  return url.toString();
}
