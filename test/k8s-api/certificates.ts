// Certificates for the test API server's HTTPS (the in-cluster configuration checks the server
// against the service account's ca.crt), made with openssl.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A CA and a certificate for 127.0.0.1 signed by it, made with openssl (PEM). */
export function testCertificates(): { ca: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-ca-'));
  try {
    const openssl = (...args: string[]) =>
      execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      join(dir, 'ca.key'),
      '-out',
      join(dir, 'ca.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=owlk8s test cluster CA',
    );
    openssl(
      'req',
      ...ec,
      '-keyout',
      join(dir, 'api.key'),
      '-out',
      join(dir, 'api.csr'),
      '-subj',
      '/CN=kube-apiserver',
    );
    writeFileSync(join(dir, 'api.ext'), 'subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\n');
    openssl(
      ...[
        'x509',
        '-req',
        '-in',
        join(dir, 'api.csr'),
        '-CA',
        join(dir, 'ca.pem'),
        '-CAkey',
        join(dir, 'ca.key'),
      ],
      ...['-CAcreateserial', '-out', join(dir, 'api.pem'), '-days', '1', '-extfile', join(dir, 'api.ext')],
    );
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    return { ca: read('ca.pem'), cert: read('api.pem'), key: read('api.key') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
