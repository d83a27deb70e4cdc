// Certificates for tests of the Prometheus endpoint's TLS, made with Debian's openssl: a CA, and
// server or client certificates it signs (P-256 keys: fast to make).
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Issued {
  /** PEM files in the directory. */
  readonly certFile: string;
  readonly keyFile: string;
  /** SHA-256 fingerprint as Node's TLS sockets report it (`AA:BB:…`). */
  readonly fingerprint256: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A self-signed CA `name`.pem / `name`.key in `dir`. */
export function makeCa(dir: string, name = 'ca'): Issued {
  openssl(
    dir,
    'req',
    '-x509',
    ...EC,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '1',
    '-subj',
    `/CN=owlk8s test ${name}`,
  );
  return issued(dir, name);
}

/**
 * `name`.pem / `name`.key signed by the CA `ca` (made by makeCa in the same directory), with
 * `subjectAltName` (e.g. `IP:127.0.0.1`) for a server, none for a client.
 */
export function makeSigned(dir: string, ca: string, name: string, subjectAltName?: string): Issued {
  openssl(dir, 'req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  if (subjectAltName !== undefined)
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${subjectAltName}\n`);
  openssl(
    dir,
    ...['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial'],
    ...['-out', `${name}.pem`, '-days', '1'],
    ...(subjectAltName === undefined ? [] : ['-extfile', `${name}.ext`]),
  );
  return issued(dir, name);
}

function issued(dir: string, name: string): Issued {
  const certFile = join(dir, `${name}.pem`);
  return {
    certFile,
    keyFile: join(dir, `${name}.key`),
    fingerprint256: new X509Certificate(readFileSync(certFile)).fingerprint256,
  };
}
