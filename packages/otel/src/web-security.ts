// The Prometheus endpoint's security material, read from the files its options name: the web
// configuration file (web-config.ts), the certificate, key and client CA files it names, and the
// bearer token file. Like exporter-toolkit, which reads its file on every request, the files are
// checked again (stat) on every new connection and request, and read again when one changed: a
// certificate or token rotated on disk (a Kubernetes Secret's update) is served without a restart.
// A change that does not load (a half-written key, a hash that is not bcrypt) keeps the last good
// material in use and is reported once per change.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { parseWebConfig, type WebConfig } from './web-config.ts';

export interface SecurityFiles {
  /** exporter-toolkit web configuration file (TLS, basic auth, headers). */
  readonly webConfigFile?: string;
  /** A file holding the bearer token scrapers must send (`Authorization: Bearer …`). */
  readonly bearerTokenFile?: string;
}

export interface SecurityProblem {
  /** Which option the problem is under. */
  readonly option: 'webConfigFile' | 'bearerTokenFile';
  /** The file the problem is in. */
  readonly file: string;
  /** Key path in the web configuration file; empty for a whole file. */
  readonly path: string;
  readonly found: string;
  readonly allowed: string;
}

export interface LoadedSecurity {
  readonly web: WebConfig;
  /** The TLS server's options; absent for plain HTTP. */
  readonly tls?: SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean };
  /** SHA-256 of the bearer token; absent when no token file is given. */
  readonly tokenDigest?: Buffer;
  /** Whether any credential is asked for. */
  readonly authRequired: boolean;
}

export function describeProblem(p: SecurityProblem): string {
  return `${p.file}:${p.path === '' ? '' : ` ${p.path}:`} ${p.found}; allowed: ${p.allowed}`;
}

/** Why a file could not be read, in words ('no such file', 'permission denied', …). */
export function fileErrorReason(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
      return 'permission denied';
    case 'EISDIR':
      return 'a directory';
    default:
      return error.code ?? error.message;
  }
}

export const sha256 = (data: string | Buffer): Buffer => createHash('sha256').update(data).digest();

/** Reads and checks every file; never throws. */
export function loadSecurity(files: SecurityFiles): {
  security?: LoadedSecurity;
  problems: SecurityProblem[];
} {
  const problems: SecurityProblem[] = [];
  let web: WebConfig = { basicAuthUsers: new Map(), headers: {} };
  let tls: LoadedSecurity['tls'];
  if (files.webConfigFile !== undefined) {
    const file = resolve(files.webConfigFile);
    const problem = (path: string, found: string, allowed: string) =>
      problems.push({ option: 'webConfigFile', file, path, found, allowed });
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      problem(
        '',
        `cannot be read (${fileErrorReason(error as NodeJS.ErrnoException)})`,
        'a readable web configuration file (YAML)',
      );
    }
    if (text !== undefined) {
      const parsed = parseWebConfig(text, dirname(file));
      for (const p of parsed.problems) problem(p.path, p.found, p.allowed);
      if (parsed.config !== undefined) {
        web = parsed.config;
        const t = web.tls;
        if (t !== undefined) {
          const pem: Record<string, string> = {};
          for (const [key, path, what] of [
            ['cert', t.certFile, 'cert_file'],
            ['key', t.keyFile, 'key_file'],
            ['ca', t.clientCaFile, 'client_ca_file'],
          ] as const) {
            if (path === undefined) continue;
            try {
              pem[key] = readFileSync(path, 'utf8');
            } catch (error) {
              problem(
                `tls_server_config.${what}`,
                `${JSON.stringify(path)} cannot be read (${fileErrorReason(error as NodeJS.ErrnoException)})`,
                'a readable PEM file',
              );
              continue;
            }
            if (!pem[key]?.includes('-----BEGIN ')) {
              problem(
                `tls_server_config.${what}`,
                `${JSON.stringify(path)} is not PEM (no "-----BEGIN" line)`,
                'a PEM file',
              );
            }
          }
          if (problems.length === 0) {
            const requestCert = t.clientAuthType !== 'NoClientCert';
            const options = {
              cert: pem.cert,
              key: pem.key,
              ...(pem.ca === undefined ? {} : { ca: pem.ca }),
              minVersion: t.minVersion,
              ...(t.maxVersion === undefined ? {} : { maxVersion: t.maxVersion }),
              requestCert,
              rejectUnauthorized: t.clientAuthType === 'RequireAndVerifyClientCert',
            };
            try {
              // What Node would refuse at the first handshake (a key that does not match the
              // certificate, a block that does not parse) is refused now.
              createSecureContext(options);
              tls = options;
            } catch (error) {
              problem(
                'tls_server_config.cert_file',
                `the certificate and key are not usable together (${(error as Error).message})`,
                'a PEM certificate and its own private key',
              );
            }
          }
        }
      }
    }
  }
  let tokenDigest: Buffer | undefined;
  if (files.bearerTokenFile !== undefined) {
    const file = resolve(files.bearerTokenFile);
    try {
      const token = readFileSync(file, 'utf8').trim();
      if (token === '') {
        problems.push({
          option: 'bearerTokenFile',
          file,
          path: '',
          found: 'empty',
          allowed: 'a file holding the token',
        });
      } else if (/\s/.test(token)) {
        problems.push({
          option: 'bearerTokenFile',
          file,
          path: '',
          found: 'white space inside the token',
          allowed: 'one token (RFC 6750: letters, digits and -._~+/=)',
        });
      } else tokenDigest = sha256(token);
    } catch (error) {
      problems.push({
        option: 'bearerTokenFile',
        file,
        path: '',
        found: `cannot be read (${fileErrorReason(error as NodeJS.ErrnoException)})`,
        allowed: 'a readable file holding the token',
      });
    }
  }
  if (problems.length > 0) return { problems };
  return {
    security: {
      web,
      ...(tls === undefined ? {} : { tls }),
      ...(tokenDigest === undefined ? {} : { tokenDigest }),
      authRequired: web.basicAuthUsers.size > 0 || tokenDigest !== undefined,
    },
    problems,
  };
}

/** The files whose change means reading again: the web configuration, what it names, the token. */
function watchedFiles(files: SecurityFiles, security: LoadedSecurity): string[] {
  const t = security.web.tls;
  return [files.webConfigFile, t?.certFile, t?.keyFile, t?.clientCaFile, files.bearerTokenFile]
    .filter((f): f is string => f !== undefined)
    .map((f) => resolve(f));
}

function signature(paths: readonly string[]): string {
  return paths
    .map((p) => {
      try {
        const s = statSync(p);
        return `${p}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
      } catch (error) {
        return `${p}:${(error as NodeJS.ErrnoException).code}`;
      }
    })
    .join('|');
}

/** The current material, read again when one of its files changes. */
export class SecurityState {
  readonly #files: SecurityFiles;
  readonly #onReload: (problems: readonly SecurityProblem[]) => void;
  #current: LoadedSecurity;
  #signature: string;
  /** The signature of the last change that failed to load: reported once, not at every request. */
  #failed = '';

  /**
   * @throws Error listing every problem, each naming its file and key, when the files do not load.
   * `onReload` is called after each reload: with no problems when it succeeded.
   */
  constructor(files: SecurityFiles, onReload: (problems: readonly SecurityProblem[]) => void) {
    this.#files = files;
    this.#onReload = onReload;
    const { security, problems } = loadSecurity(files);
    if (security === undefined) throw new SecurityError(problems);
    this.#current = security;
    this.#signature = signature(watchedFiles(files, security));
  }

  get current(): LoadedSecurity {
    return this.#current;
  }

  /** Stats the files; reads them again if one changed. Returns whether the TLS material changed. */
  refresh(): boolean {
    const now = signature(watchedFiles(this.#files, this.#current));
    if (now === this.#signature || now === this.#failed) return false;
    const { security, problems } = loadSecurity(this.#files);
    const fail = (found: readonly SecurityProblem[]) => {
      this.#failed = now;
      this.#onReload(found);
      return false;
    };
    if (security === undefined) return fail(problems);
    if ((security.tls === undefined) !== (this.#current.tls === undefined)) {
      return fail([
        {
          option: 'webConfigFile',
          file: resolve(this.#files.webConfigFile ?? ''),
          path: 'tls_server_config',
          found: security.tls === undefined ? 'removed while serving TLS' : 'added while serving plain HTTP',
          allowed: 'the same scheme as at start (restart the agent to switch between HTTP and HTTPS)',
        },
      ]);
    }
    const tlsChanged = security.tls !== undefined;
    this.#current = security;
    // Taken before the read: a file that changed during it is read again at the next request.
    this.#signature = now;
    this.#failed = '';
    this.#onReload([]);
    return tlsChanged;
  }
}

export class SecurityError extends Error {
  readonly problems: readonly SecurityProblem[];
  constructor(problems: readonly SecurityProblem[]) {
    super(problems.map(describeProblem).join('; '));
    this.name = 'SecurityError';
    this.problems = problems;
  }
}
