import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodRecord, ServiceRecord } from '../src/records.ts';
import { servicePorts } from '../src/service-ports.ts';

const pod = (name: string, namespace: string, labels: Record<string, string>, ports: PodRecord['ports']) =>
  ({
    uid: name,
    name,
    namespace,
    node: 'n1',
    hostNetwork: false,
    phase: 'Running',
    ready: true,
    ips: [],
    labels,
    ignore: false,
    ports,
  }) satisfies PodRecord;
const svc = (
  name: string,
  namespace: string,
  ports: ServiceRecord['ports'],
  selector?: Record<string, string>,
): ServiceRecord => ({ name, namespace, ...(selector ? { selector } : {}), ports, clusterIPs: [] });

describe('servicePorts', () => {
  it('takes every Service port and numeric target port, sorted and without duplicates', () => {
    const services = [
      svc('web', 'a', [
        { port: 80, targetPort: 8080 },
        { port: 443, targetPort: 8443 },
      ]),
      // Selector-less (endpoints kept by hand): its ports count the same.
      svc('db', 'b', [{ port: 5432, targetPort: 5432 }]),
      svc('web2', 'b', [{ port: 80, targetPort: 8080 }]),
    ];
    assert.deepEqual(servicePorts(services, []), [80, 443, 5432, 8080, 8443]);
  });

  it('takes a NodePort too: a client calling a node address leaves its pod with it', () => {
    const services = [svc('web', 'a', [{ port: 80, targetPort: 8080, nodePort: 30080 }])];
    assert.deepEqual(servicePorts(services, []), [80, 8080, 30080]);
  });

  it('resolves a named target port through the selected pods of its namespace only', () => {
    const services = [svc('web', 'a', [{ port: 80, targetPort: 'http' }], { app: 'web' })];
    const pods = [
      pod('a1', 'a', { app: 'web' }, [{ port: 8080, name: 'http' }]),
      pod('a2', 'a', { app: 'web' }, [
        { port: 9090, name: 'http' },
        { port: 9100, name: 'metrics' },
      ]),
      // Not selected: another label, another namespace.
      pod('a3', 'a', { app: 'other' }, [{ port: 7000, name: 'http' }]),
      pod('b1', 'b', { app: 'web' }, [{ port: 7001, name: 'http' }]),
    ];
    assert.deepEqual(servicePorts(services, pods), [80, 8080, 9090]);
  });

  it('a named target port no pod of the node declares adds only the Service port', () => {
    assert.deepEqual(
      servicePorts([svc('web', 'a', [{ port: 81, targetPort: 'grpc' }], { app: 'web' })], []),
      [81],
    );
  });

  it('no Services: no ports', () => {
    assert.deepEqual(servicePorts([], [pod('a1', 'a', {}, [{ port: 8080 }])]), []);
  });
});
