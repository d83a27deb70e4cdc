// Errors callers can tell apart: every API failure is an ApiError naming the verb and resource;
// a 403 is a ForbiddenError that says which RBAC rule is missing; 410 Gone is a GoneError.

/** An API request that failed; `status` is the HTTP code, undefined when the server was not reached. */
export class ApiError extends Error {
  readonly verb: string;
  /** The resource as RBAC names it: `pods`, `replicasets.apps`. */
  readonly resource: string;
  readonly status: number | undefined;

  constructor(
    verb: string,
    resource: string,
    status: number | undefined,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${verb} ${resource}: ${status === undefined ? '' : `HTTP ${status}: `}${detail}`, options);
    this.name = 'ApiError';
    this.verb = verb;
    this.resource = resource;
    this.status = status;
  }
}

/** 403: the service account lacks the RBAC verb on the resource. */
export class ForbiddenError extends ApiError {
  constructor(verb: string, resource: string, serverMessage: string | undefined) {
    const [plural = resource, group = ''] = resource.split(/\.(.*)/s);
    super(
      verb,
      resource,
      403,
      `forbidden: the ClusterRole lacks verb "${verb}" on resource "${plural}" in API group "${group}" ` +
        `(see deploy/rbac.yaml)${serverMessage ? `; API server said: ${serverMessage}` : ''}`,
    );
    this.name = 'ForbiddenError';
  }
}

/** 410: the resourceVersion (or continue token) is too old; the caller must list again. */
export class GoneError extends ApiError {
  constructor(verb: string, resource: string, serverMessage: string | undefined) {
    super(verb, resource, 410, `gone: ${serverMessage ?? 'resource version too old'}; listing again`);
    this.name = 'GoneError';
  }
}

/** Bad configuration (no node name, no in-cluster environment...), named with the fix. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The error an API status code maps to. */
export function apiErrorFor(
  verb: string,
  resource: string,
  status: number,
  message: string | undefined,
  options?: ErrorOptions,
): ApiError {
  if (status === 403) return new ForbiddenError(verb, resource, message);
  if (status === 410) return new GoneError(verb, resource, message);
  return new ApiError(verb, resource, status, message ?? 'request failed', options);
}
