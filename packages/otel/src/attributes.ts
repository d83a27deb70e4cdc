// Attribute sets of a request, per the OpenTelemetry HTTP and RPC semantic conventions. The pod's identity
// is not made here: it arrives as a plain attribute set (TargetIdentity) from the caller.
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_SERVER_PORT,
  ATTR_URL_SCHEME,
  RPC_SYSTEM_NAME_VALUE_GRPC,
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

/**
 * A finished HTTP/2 call (gRPC or not), as user space decoded it from the kernel's frame records:
 * the fields the metrics read. `@owlk8s/h2`'s `H2Call` is one (structurally); this package does
 * not depend on the decoder.
 */
export interface CallRecord {
  readonly targetId: number;
  readonly role: 'server' | 'client';
  readonly serverPort: number;
  /** As Aggregate.peerId; 0: none (outside, unknown, or the server role without serverPeers). */
  readonly peerId: number;
  readonly durationNs: number;
  /** `:method`; undefined when it could not be decoded. */
  readonly method: string | undefined;
  /** The final `:status`; undefined when none was seen or it could not be decoded. */
  readonly statusCode: number | undefined;
  /** content-type application/grpc…; undefined when it could not be decoded (then an HTTP request). */
  readonly grpc: boolean | undefined;
  /** `grpc-status`; undefined when none was seen or it could not be decoded. */
  readonly grpcStatus: number | undefined;
  /** `package.Service/Method`; undefined when the path could not be decoded or has another form. */
  readonly grpcMethod: string | undefined;
  /** How the call ended without its response's end (`stream_reset`, `goaway`, `timeout`, ...). */
  readonly error: string | undefined;
  /** A header block of the call could not be decoded: a field left undefined is unknown. */
  readonly incomplete: boolean;
}

/** gRPC status codes by number (grpc/grpc doc/statuscodes.md): `rpc.status_code` values. */
export const GRPC_STATUS_NAMES: readonly string[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/**
 * `rpc.status_code` of a call whose `grpc-status` is not known: not decoded (a connection joined
 * mid-way, bytes lost), absent from a response, or the call ended before it (then `error.type`
 * says how). Never a guessed code: gRPC's own `UNKNOWN` (2) is a status a server sent.
 */
export const RPC_STATUS_UNKNOWN = '_OTHER';

/** Server-side statuses that are errors (semantic-conventions docs/rpc/grpc.md); client side: all but OK. */
const GRPC_SERVER_ERRORS: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

/** `rpc.status_code` of a decoded `grpc-status`: its name, or the number for a code past 16. */
export function grpcStatusName(status: number | undefined): string {
  if (status === undefined) return RPC_STATUS_UNKNOWN;
  return GRPC_STATUS_NAMES[status] ?? String(status);
}

/**
 * `error.type` of a gRPC call: how it ended without its response's end (`stream_reset`, `goaway`,
 * `timeout`, `connection_reset`, `connection_closed`); else the status name when the status is an
 * error for the role (server: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE,
 * DATA_LOSS; client: every status but OK); `_OTHER` for a fully decoded response that carried no
 * `grpc-status` (a gRPC client fails such a call); unset for a status that could not be decoded.
 */
export function grpcErrorType(call: CallRecord): string | undefined {
  if (call.error !== undefined) return call.error;
  const status = call.grpcStatus;
  if (status === undefined) return call.incomplete ? undefined : '_OTHER';
  if (status === 0) return undefined;
  if (call.role === 'client' || GRPC_SERVER_ERRORS.has(status)) return grpcStatusName(status);
  return undefined;
}

/**
 * The point attributes of a gRPC call's series (`rpc.server.call.duration` /
 * `rpc.client.call.duration`): `rpc.system.name`, `rpc.method` (`_OTHER` when it could not be
 * decoded), `rpc.status_code`, `error.type`, `server.port` (or the collapsed marker), and on the
 * server side what the target adds for its port.
 */
export function rpcCallAttributes(
  call: CallRecord,
  portAttributes: Attributes | undefined,
  collapsedPort = false,
): Attributes {
  const attributes: Attributes = {
    [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_NAME_VALUE_GRPC,
    [ATTR_RPC_METHOD]: call.grpcMethod ?? '_OTHER',
    [ATTR_RPC_STATUS_CODE]: grpcStatusName(call.grpcStatus),
  };
  if (collapsedPort) attributes[ATTR_OWLK8S_SERVER_PORT_COLLAPSED] = true;
  else attributes[ATTR_SERVER_PORT] = call.serverPort;
  const error = grpcErrorType(call);
  if (error !== undefined) attributes[ATTR_ERROR_TYPE] = error;
  if (call.role === 'server' && portAttributes !== undefined) Object.assign(attributes, portAttributes);
  return attributes;
}

/**
 * The point attributes of an HTTP/2 request that is not a gRPC call: as `requestAttributes` for
 * HTTP/1.x, with `network.protocol.version` `2`. A `:method` that could not be decoded is `_OTHER`;
 * a `:status` that could not be decoded leaves `http.response.status_code` out (and sets no
 * `error.type`: the request may have succeeded).
 */
export function h2RequestAttributes(
  call: CallRecord,
  knownMethods: ReadonlySet<string>,
  portAttributes: Attributes | undefined,
  collapsedPort = false,
): Attributes {
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: normaliseMethod(call.method ?? '_OTHER', knownMethods),
  };
  if (call.error === undefined && call.statusCode !== undefined)
    attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = call.statusCode;
  if (collapsedPort) attributes[ATTR_OWLK8S_SERVER_PORT_COLLAPSED] = true;
  else attributes[ATTR_SERVER_PORT] = call.serverPort;
  attributes[ATTR_NETWORK_PROTOCOL_VERSION] = '2';
  if (call.role === 'server') attributes[ATTR_URL_SCHEME] = 'http';
  const error =
    call.error ??
    (call.statusCode === undefined
      ? undefined
      : errorType({ role: call.role, statusCode: call.statusCode, error: undefined }));
  if (error !== undefined) attributes[ATTR_ERROR_TYPE] = error;
  if (call.role === 'server' && portAttributes !== undefined) Object.assign(attributes, portAttributes);
  return attributes;
}
