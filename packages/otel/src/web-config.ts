// The Prometheus endpoint's security, configured like Prometheus's own exporters: the
// exporter-toolkit web configuration file (`--web.config.file` of Prometheus and node_exporter),
// `tls_server_config`, `http_server_config` and `basic_auth_users`, so that one file serves both.
// Parsing checks every key and reports each problem with its key path, what was found and what is
// allowed; the files it names are read by web-security.ts.
import { parse } from 'yaml';

export type ClientAuthType =
  | 'NoClientCert'
  | 'RequestClientCert'
  | 'RequireAnyClientCert'
  | 'VerifyClientCertIfGiven'
  | 'RequireAndVerifyClientCert';

export const CLIENT_AUTH_TYPES: readonly ClientAuthType[] = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
];

/** exporter-toolkit's version names → Node's. */
const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
export type TlsVersion = (typeof TLS_VERSIONS)[keyof typeof TLS_VERSIONS];

/** The response headers exporter-toolkit lets `http_server_config.headers` set. */
const ALLOWED_HEADERS = [
  'Strict-Transport-Security',
  'X-Content-Type-Options',
  'X-Frame-Options',
  'X-XSS-Protection',
  'Content-Security-Policy',
];

export interface WebTlsConfig {
  /** Absolute paths: a relative one in the file is relative to the file's directory. */
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientAuthType: ClientAuthType;
  readonly clientCaFile?: string;
  readonly minVersion: TlsVersion;
  readonly maxVersion?: TlsVersion;
}

export interface WebConfig {
  /** Absent: plain HTTP. */
  readonly tls?: WebTlsConfig;
  /** User name → bcrypt hash. Empty: no basic authentication. */
  readonly basicAuthUsers: ReadonlyMap<string, string>;
  /** Added to every response. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface WebConfigProblem {
  /** Key path in the file, e.g. `tls_server_config.cert_file`; empty for the whole file. */
  readonly path: string;
  readonly found: string;
  readonly allowed: string;
}

/** A bcrypt hash as htpasswd -B, Python's bcrypt and Go's x/crypto/bcrypt write it. */
const BCRYPT = /^\$2[aby]?\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

/** Keys exporter-toolkit knows and owlk8s does not implement: refused by name, never ignored. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  'tls_server_config.cert': 'inline certificates: put the certificate in a file and name it in cert_file',
  'tls_server_config.key': 'inline keys: put the key in a file and name it in key_file',
  'tls_server_config.client_ca': 'an inline CA: put it in a file and name it in client_ca_file',
  'tls_server_config.client_allowed_sans': 'client SAN filtering',
  'tls_server_config.cipher_suites': 'a cipher suite list (Node’s defaults apply)',
  'tls_server_config.curve_preferences': 'curve preferences (Node’s defaults apply)',
  'tls_server_config.prefer_server_cipher_suites': 'prefer_server_cipher_suites (Node’s defaults apply)',
  rate_limit: 'rate_limit: owlk8s bounds concurrent scrapes instead (export.prometheus.maxConcurrentScrapes)',
};

const show = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and checks the text of a web configuration file. `dir` is the file's directory (relative
 * paths are taken from it, as exporter-toolkit does). Never throws: every problem is returned.
 */
export function parseWebConfig(
  text: string,
  dir: string,
): { config?: WebConfig; problems: WebConfigProblem[] } {
  const problems: WebConfigProblem[] = [];
  const add = (path: string, found: string, allowed: string) => problems.push({ path, found, allowed });
  let data: unknown;
  try {
    data = parse(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (error) {
    add('', `YAML syntax error: ${(error as Error).message.split('\n')[0]}`, 'valid YAML');
    return { problems };
  }
  if (data === null || data === undefined) data = {};
  if (!isMapping(data)) {
    add(
      '',
      `got ${show(data)}`,
      'a mapping with the keys tls_server_config, http_server_config, basic_auth_users',
    );
    return { problems };
  }
  const keysOf = (m: Record<string, unknown>, prefix: string, known: readonly string[]) => {
    for (const key of Object.keys(m)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (known.includes(key)) continue;
      const unsupported = UNSUPPORTED[path];
      if (unsupported !== undefined)
        add(path, `not supported by owlk8s (${unsupported})`, `the keys ${known.join(', ')}`);
      else
        add(
          path,
          'unknown key',
          `${prefix === '' ? 'the keys' : `the keys of ${prefix}`}: ${known.join(', ')}`,
        );
    }
  };
  keysOf(data, '', ['tls_server_config', 'http_server_config', 'basic_auth_users']);
  const file = (path: string, value: unknown): string | undefined => {
    if (typeof value !== 'string' || value === '') {
      add(
        path,
        value === undefined || value === null ? 'missing' : `got ${show(value)}`,
        'a file path (relative to the web configuration file’s directory)',
      );
      return undefined;
    }
    return value.startsWith('/') ? value : `${dir}/${value}`;
  };

  let tls: WebTlsConfig | undefined;
  const t = data.tls_server_config;
  if (t !== undefined && t !== null) {
    if (!isMapping(t)) add('tls_server_config', `got ${show(t)}`, 'a mapping with cert_file and key_file');
    else {
      keysOf(t, 'tls_server_config', [
        'cert_file',
        'key_file',
        'client_auth_type',
        'client_ca_file',
        'min_version',
        'max_version',
      ]);
      const certFile = file('tls_server_config.cert_file', t.cert_file);
      const keyFile = file('tls_server_config.key_file', t.key_file);
      const clientAuthType = (t.client_auth_type ?? 'NoClientCert') as ClientAuthType;
      if (!CLIENT_AUTH_TYPES.includes(clientAuthType)) {
        add(
          'tls_server_config.client_auth_type',
          `got ${show(t.client_auth_type)}`,
          `one of ${CLIENT_AUTH_TYPES.join(', ')}`,
        );
      }
      let clientCaFile: string | undefined;
      if (t.client_ca_file !== undefined && t.client_ca_file !== null) {
        clientCaFile = file('tls_server_config.client_ca_file', t.client_ca_file);
      } else if (
        clientAuthType === 'RequireAndVerifyClientCert' ||
        clientAuthType === 'VerifyClientCertIfGiven'
      ) {
        add(
          'tls_server_config.client_ca_file',
          `missing, with client_auth_type ${clientAuthType}`,
          'the CA file that signs the clients’ certificates',
        );
      }
      const version = (key: 'min_version' | 'max_version'): TlsVersion | undefined => {
        const v = t[key];
        if (v === undefined || v === null) return undefined;
        const node = typeof v === 'string' ? TLS_VERSIONS[v as keyof typeof TLS_VERSIONS] : undefined;
        if (node === undefined)
          add(`tls_server_config.${key}`, `got ${show(v)}`, 'one of TLS10, TLS11, TLS12, TLS13');
        return node;
      };
      // exporter-toolkit's default minimum is TLS 1.2.
      const minVersion = version('min_version') ?? 'TLSv1.2';
      const maxVersion = version('max_version');
      if (certFile !== undefined && keyFile !== undefined) {
        tls = {
          certFile,
          keyFile,
          clientAuthType,
          ...(clientCaFile === undefined ? {} : { clientCaFile }),
          minVersion,
          ...(maxVersion === undefined ? {} : { maxVersion }),
        };
      }
    }
  }

  const headers: Record<string, string> = {};
  const h = data.http_server_config;
  if (h !== undefined && h !== null) {
    if (!isMapping(h)) add('http_server_config', `got ${show(h)}`, 'a mapping with the keys http2, headers');
    else {
      keysOf(h, 'http_server_config', ['http2', 'headers']);
      if (h.http2 !== undefined && h.http2 !== false) {
        add(
          'http_server_config.http2',
          `got ${show(h.http2)}`,
          'false, or no http2 key: the endpoint serves HTTP/1.1 (Prometheus scrapes over it)',
        );
      }
      if (h.headers !== undefined && h.headers !== null) {
        if (!isMapping(h.headers))
          add('http_server_config.headers', `got ${show(h.headers)}`, 'a mapping of header names to values');
        else {
          for (const [name, value] of Object.entries(h.headers)) {
            const known = ALLOWED_HEADERS.find((a) => a.toLowerCase() === name.toLowerCase());
            if (known === undefined)
              add(
                `http_server_config.headers.${name}`,
                'not a header that may be set',
                ALLOWED_HEADERS.join(', '),
              );
            else if (typeof value !== 'string')
              add(`http_server_config.headers.${name}`, `got ${show(value)}`, 'a string');
            else headers[known] = value;
          }
        }
      }
    }
  }

  const users = new Map<string, string>();
  const b = data.basic_auth_users;
  if (b !== undefined && b !== null) {
    if (!isMapping(b)) add('basic_auth_users', `got ${show(b)}`, 'a mapping of user names to bcrypt hashes');
    else {
      for (const [user, hash] of Object.entries(b)) {
        const path = `basic_auth_users.${user}`;
        if (user.includes(':'))
          add(
            path,
            'a user name with ":"',
            'a user name without ":" (basic authentication separates the password with it)',
          );
        else if (typeof hash !== 'string' || !BCRYPT.test(hash)) {
          // The value is not shown: it may be a password written in clear by mistake.
          add(
            path,
            typeof hash === 'string'
              ? `not a bcrypt hash (${hash.length} characters)`
              : `got a ${hash === null ? 'null' : typeof hash}`,
            'a bcrypt hash of the password, e.g. from `htpasswd -nBC 10 "" | tr -d \':\\n\'` ($2y$10$ and 53 characters)',
          );
        } else users.set(user, hash);
      }
    }
  }
  if (problems.length > 0) return { problems };
  return { config: { ...(tls === undefined ? {} : { tls }), basicAuthUsers: users, headers }, problems };
}
