import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../src/errors.ts';
import { ServiceAccountTransport } from '../src/service-account-transport.ts';

const dir = mkdtempSync(join(tmpdir(), 'owlk8s-sa-'));
writeFileSync(join(dir, 'token'), 'a-token\n');
// Not parsed at creation: any text does for these checks.
writeFileSync(join(dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\n');
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { KUBERNETES_SERVICE_HOST: '198.18.0.1', KUBERNETES_SERVICE_PORT: '443' };

function configError(make: () => unknown, message: string): void {
  assert.throws(make, (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.message, message);
    return true;
  });
}

describe('ServiceAccountTransport configuration', () => {
  it('reaches the service host and port; an IPv6 host in brackets', () => {
    assert.equal(new ServiceAccountTransport({ dir, env }).server, 'https://198.18.0.1:443');
    const v6 = { KUBERNETES_SERVICE_HOST: '2001:2::1', KUBERNETES_SERVICE_PORT: '6443' };
    assert.equal(new ServiceAccountTransport({ dir, env: v6 }).server, 'https://[2001:2::1]:6443');
  });

  it('without the service environment names the variables', () => {
    configError(
      () => new ServiceAccountTransport({ dir, env: { KUBERNETES_SERVICE_PORT: '443' } }),
      'in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set ' +
        '(not running in a pod?); configure a kubeconfig path instead',
    );
  });

  it('a port that is not a TCP port is named', () => {
    configError(
      () => new ServiceAccountTransport({ dir, env: { ...env, KUBERNETES_SERVICE_PORT: 'https' } }),
      'in-cluster configuration: KUBERNETES_SERVICE_PORT: got "https"; allowed: a TCP port 1-65535',
    );
  });

  it('a missing CA or token file is named at creation', () => {
    const empty = mkdtempSync(join(tmpdir(), 'owlk8s-sa-'));
    try {
      configError(
        () => new ServiceAccountTransport({ dir: empty, env }),
        `in-cluster configuration: ${empty}/ca.crt: cannot read the CA certificate (ENOENT); ` +
          "is the service account's token mounted (automountServiceAccountToken)?",
      );
      writeFileSync(join(empty, 'ca.crt'), 'x');
      configError(
        () => new ServiceAccountTransport({ dir: empty, env }),
        `in-cluster configuration: ${empty}/token: cannot read the bearer token (ENOENT); ` +
          "is the service account's token mounted (automountServiceAccountToken)?",
      );
      writeFileSync(join(empty, 'token'), '\n');
      configError(
        () => new ServiceAccountTransport({ dir: empty, env }),
        `in-cluster configuration: ${empty}/token: the bearer token file is empty`,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
