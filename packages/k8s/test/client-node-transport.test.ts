import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { loadKubeConfig } from '../src/client-node-transport.ts';

describe('loadKubeConfig', () => {
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  afterEach(() => {
    for (const [k, v] of [
      ['KUBERNETES_SERVICE_HOST', saved.host],
      ['KUBERNETES_SERVICE_PORT', saved.port],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('in-cluster without the service environment names the variables', () => {
    delete process.env.KUBERNETES_SERVICE_HOST;
    assert.throws(
      () => loadKubeConfig(undefined),
      /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set/,
    );
  });

  it('in-cluster with the environment points at the service host', () => {
    process.env.KUBERNETES_SERVICE_HOST = '198.18.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    assert.equal(loadKubeConfig(undefined).getCurrentCluster()?.server, 'https://198.18.0.1:443');
  });

  it('a kubeconfig path that does not exist is named', () => {
    assert.throws(
      () => loadKubeConfig('/nonexistent/kubeconfig'),
      /kubeconfig: \/nonexistent\/kubeconfig: no such file/,
    );
  });
});
