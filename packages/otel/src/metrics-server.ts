// The Prometheus endpoint's HTTP(S) server, in front of the SDK exporter's request handler: plain
// HTTP or TLS, basic authentication with bcrypt hashes and/or a bearer token (web-security.ts), a
// bound on requests in flight, and a count of every refused request. The SDK exporter's own
// server (plain HTTP, no options) is never started.
import { timingSafeEqual } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import type { PipelineLogger } from './options.ts';
import {
  describeProblem,
  type LoadedSecurity,
  type SecurityFiles,
  SecurityState,
  sha256,
} from './web-security.ts';

/** Why a request was refused: the `owlk8s.reason` attribute of `owlk8s.agent.scrape.refused`. */
export type RefusalReason = 'unauthorized' | 'concurrency_limit' | 'tls_handshake';
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'unauthorized',
  'concurrency_limit',
  'tls_handshake',
];

export interface MetricsServerOptions extends SecurityFiles {
  /** The exporter's name in logs and counters, e.g. `prometheus[0]`. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly path: string;
  /** Requests served at once (authentication included); the next ones get 503. */
  readonly maxConcurrentScrapes: number;
  readonly logger: PipelineLogger;
  /** Minimum time between two log lines of the same kind. */
  readonly logIntervalMillis: number;
  readonly onRefused: (reason: RefusalReason) => void;
  /** Writes the metrics (the SDK exporter's handler). */
  readonly serve: (request: IncomingMessage, response: ServerResponse) => void;
}

export interface MetricsServer {
  /** e.g. `https://198.18.0.1:9464/metrics`. */
  readonly url: string;
  close(): Promise<void>;
}

interface Refusal {
  /** One of a fixed set of phrases (the log's throttle key). */
  readonly why: string;
  /** What the client sent that explains it (a user name), clipped. */
  readonly detail?: string;
}

/** Client-sent text in a log line: at most 64 characters. */
const clip = (text: string): string => (text.length > 64 ? `${text.slice(0, 64)}…` : text);

/** Verified `user, password, hash` triples (by digest), so a scrape costs one bcrypt at most once. */
const CACHE_SIZE = 256;

/**
 * Listens; resolves once listening.
 * @throws SecurityError (from web-security.ts) when the files do not load, naming each problem;
 *   Error when the port cannot be bound.
 */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const throttle = new Map<string, number>();
  const log = (kind: 'warn' | 'error', key: string, details: Record<string, unknown>, message: string) => {
    const now = Date.now();
    if (now - (throttle.get(key) ?? Number.NEGATIVE_INFINITY) < o.logIntervalMillis) return;
    throttle.set(key, now);
    o.logger[kind]({ exporter: o.name, ...details }, message);
  };
  let server: Server;
  const state = new SecurityState(o, (problems) => {
    if (problems.length === 0) {
      o.logger.warn({ exporter: o.name }, 'the endpoint’s security files changed: reloaded');
      if (state.current.tls !== undefined && 'setSecureContext' in server) {
        (server as unknown as { setSecureContext(options: object): void }).setSecureContext(
          state.current.tls,
        );
      }
    } else {
      o.logger.error(
        { exporter: o.name, problems: problems.map(describeProblem) },
        'the endpoint’s security files changed but cannot be used: still serving the previous ones',
      );
    }
  });
  const verified = new Map<string, boolean>();
  let inFlight = 0;

  const refuse = (response: ServerResponse, status: number, reason: RefusalReason, text: string): void => {
    o.onRefused(reason);
    response.statusCode = status;
    response.setHeader('content-type', 'text/plain; charset=utf-8');
    response.end(`${text}\n`);
  };

  /** Undefined when the request may be served, else why not (for the log). */
  const authenticate = async (
    request: IncomingMessage,
    security: LoadedSecurity,
  ): Promise<Refusal | undefined> => {
    const t = security.web.tls;
    if (t !== undefined) {
      const socket = request.socket as TLSSocket;
      const given = Object.keys(socket.getPeerCertificate?.() ?? {}).length > 0;
      if (t.clientAuthType === 'RequireAnyClientCert' && !given) return { why: 'no client certificate' };
      if (t.clientAuthType === 'VerifyClientCertIfGiven' && given && !socket.authorized) {
        return { why: 'client certificate not verified', detail: String(socket.authorizationError) };
      }
    }
    if (!security.authRequired) return undefined;
    const header = request.headers.authorization ?? '';
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const credentials = header.slice(space + 1).trim();
    if (space < 0 || credentials === '') return { why: 'no credentials' };
    if (scheme === 'bearer') {
      if (security.tokenDigest === undefined) {
        return { why: 'a bearer token, but no bearer token file is configured' };
      }
      return timingSafeEqual(sha256(credentials), security.tokenDigest)
        ? undefined
        : { why: 'wrong bearer token' };
    }
    if (scheme !== 'basic')
      return { why: 'an authorization scheme other than Basic and Bearer', detail: clip(scheme) };
    if (security.web.basicAuthUsers.size === 0) {
      return { why: 'basic credentials, but no basic_auth_users are configured' };
    }
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { why: 'malformed basic credentials' };
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = security.web.basicAuthUsers.get(user);
    // An unknown user costs a bcrypt comparison too, so timing does not tell which users exist.
    const key = sha256(`${user}\0${password}\0${hash ?? ''}`).toString('hex');
    let ok = verified.get(key);
    if (ok === undefined) {
      ok = (await bcrypt.compare(password, hash ?? (await dummyHash()))) && hash !== undefined;
      if (verified.size >= CACHE_SIZE) verified.clear();
      verified.set(key, ok);
    }
    if (ok) return undefined;
    return {
      why: hash === undefined ? 'unknown user' : 'wrong password',
      detail: `user ${JSON.stringify(clip(user))}`,
    };
  };

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    state.refresh();
    const security = state.current;
    for (const [name, value] of Object.entries(security.web.headers)) response.setHeader(name, value);
    if (inFlight >= o.maxConcurrentScrapes) {
      log(
        'warn',
        'limit',
        { limit: o.maxConcurrentScrapes, remote: request.socket.remoteAddress },
        'scrape refused: too many at once',
      );
      refuse(
        response,
        503,
        'concurrency_limit',
        `too many concurrent scrapes (limit ${o.maxConcurrentScrapes}); try again later`,
      );
      return;
    }
    inFlight++;
    response.once('close', () => {
      inFlight--;
    });
    authenticate(request, security).then(
      (refusal) => {
        if (refusal !== undefined) {
          // One line per kind of refusal and interval: what a client sends never grows the throttle.
          log(
            'warn',
            `auth ${refusal.why}`,
            { remote: request.socket.remoteAddress, ...refusal },
            'scrape refused: not authenticated',
          );
          const challenges = [
            ...(security.web.basicAuthUsers.size > 0 ? ['Basic realm="owlk8s"'] : []),
            ...(security.tokenDigest !== undefined ? ['Bearer realm="owlk8s"'] : []),
          ];
          if (challenges.length > 0) response.setHeader('www-authenticate', challenges);
          refuse(response, 401, 'unauthorized', 'Unauthorized');
          return;
        }
        let pathname: string;
        try {
          pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
        } catch {
          response.statusCode = 400;
          response.end('Bad Request\n');
          return;
        }
        if (pathname !== o.path) {
          response.statusCode = 404;
          response.end('Not Found\n');
          return;
        }
        o.serve(request, response);
      },
      (error: unknown) => {
        log('error', 'internal', { error: (error as Error).message }, 'scrape failed');
        response.statusCode = 500;
        response.end('Internal Server Error\n');
      },
    );
  };

  const tls = state.current.tls;
  if (tls === undefined) server = createHttpServer(handle);
  else {
    const https = createHttpsServer(tls, handle);
    // Before the TLS socket is made from the connection (its listener is the first one), so a
    // certificate replaced on disk is the one this very connection is served.
    // (A reload calls setSecureContext, in the callback above.)
    https.prependListener('connection', () => {
      state.refresh();
    });
    https.on('tlsClientError', (error, socket) => {
      o.onRefused('tls_handshake');
      log('warn', 'tls', { remote: socket.remoteAddress, error: error.message }, 'TLS handshake failed');
    });
    server = https;
  }
  // Prometheus's scrape timeout is 10 s by default: a request that takes longer is given up anyway.
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: o.host, port: o.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `${tls === undefined ? 'http' : 'https'}://${host}:${o.port}${o.path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let dummy: Promise<string> | undefined;
/** A hash to compare an unknown user's password with (made once, at the first need). */
function dummyHash(): Promise<string> {
  dummy ??= bcrypt.hash('owlk8s: no such user', 10);
  return dummy;
}
