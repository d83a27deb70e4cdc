// Attribute sets of a request, per the OpenTelemetry HTTP semantic conventions. The pod's identity
// is not made here: it arrives as a plain attribute set (TargetIdentity) from the caller.
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_PORT,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import type { Aggregate } from '@owlk8s/ebpf';

// Incubating names are copied, not imported: the `/incubating` entry point may change them
// in any minor release, and the attribute name on the wire is what users depend on.
export const ATTR_OTEL_METRIC_OVERFLOW = 'otel.metric.overflow';

/**
 * Marks a pod's client-side series that holds its requests to ports neither configured nor known
 * as a Service's (`true`); such a series has no `server.port`. See the package README.
 */
export const ATTR_OWLK8S_SERVER_PORT_COLLAPSED = 'owlk8s.server.port.collapsed';

/** RFC 9110 methods plus PATCH: the conventions' default set of known methods. */
export const DEFAULT_KNOWN_METHODS: readonly string[] = [
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
];

/** A method outside the known set is recorded as `_OTHER`, as the conventions require. */
export function normaliseMethod(method: string, known: ReadonlySet<string>): string {
  return known.has(method) ? method : '_OTHER';
}

/**
 * `error.type`: how a request without a final response ended (`timeout`, `connection_reset`,
 * `connection_closed`); else the status code as a string for 5xx (server) or 4xx and 5xx
 * (client); else unset.
 */
export function errorType(aggregate: Pick<Aggregate, 'role' | 'statusCode' | 'error'>): string | undefined {
  if (aggregate.error !== undefined) return aggregate.error;
  const threshold = aggregate.role === 'server' ? 500 : 400;
  return aggregate.statusCode >= threshold ? String(aggregate.statusCode) : undefined;
}

/**
 * The point attributes of one histogram series: the request's, then what the target adds for its
 * local port (`k8s.service.name` on the server side). A request that ended without a final
 * response has `error.type` and no `http.response.status_code`; `network.protocol.version` is the
 * response's, or the request's when there was none. `url.scheme` is required on the server
 * metric only (opt-in on the client one); the client metric's required `server.address` is
 * unknown to the kernel aggregate and left out. A collapsed client-side series (`collapsedPort`)
 * has no `server.port` and `owlk8s.server.port.collapsed=true` instead.
 */
export function requestAttributes(
  aggregate: Aggregate,
  knownMethods: ReadonlySet<string>,
  portAttributes: Attributes | undefined,
  collapsedPort = false,
): Attributes {
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: normaliseMethod(aggregate.method, knownMethods),
  };
  if (aggregate.error === undefined) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = aggregate.statusCode;
  if (collapsedPort) attributes[ATTR_OWLK8S_SERVER_PORT_COLLAPSED] = true;
  else attributes[ATTR_SERVER_PORT] = aggregate.port;
  attributes[ATTR_NETWORK_PROTOCOL_VERSION] = aggregate.httpMinor === 0 ? '1.0' : '1.1';
  if (aggregate.role === 'server') attributes[ATTR_URL_SCHEME] = 'http';
  const error = errorType(aggregate);
  if (error !== undefined) attributes[ATTR_ERROR_TYPE] = error;
  if (aggregate.role === 'server' && portAttributes !== undefined) Object.assign(attributes, portAttributes);
  return attributes;
}

/** `http.server.active_requests` attributes: method, scheme and the local port. */
export function activeRequestAttributes(method: string, port: number): Attributes {
  return { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_SCHEME]: 'http', [ATTR_SERVER_PORT]: port };
}
