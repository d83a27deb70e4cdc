import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { projectPod, projectScope, projectService } from '../src/records.ts';

describe('projectPod', () => {
  it('keeps only the fields targets need', () => {
    const raw = {
      metadata: {
        name: 'web-1',
        namespace: 'shop',
        uid: 'u1',
        resourceVersion: '7',
        labels: { app: 'web' },
        annotations: {
          'owlk8s/ignore': 'true',
          'resource.opentelemetry.io/service.name': 'web-svc',
          big: 'x'.repeat(1000),
        },
        ownerReferences: [
          { kind: 'Other', name: 'o', uid: 'uo' },
          { kind: 'ReplicaSet', name: 'web-abc', uid: 'urs', controller: true },
        ],
        managedFields: [{ manager: 'kubelet' }],
      },
      spec: {
        nodeName: 'n1',
        containers: [
          {
            name: 'a',
            ports: [
              { containerPort: 8080, name: 'http' },
              { containerPort: 53, protocol: 'UDP' },
            ],
          },
          { name: 'b', ports: [{ containerPort: 9100, protocol: 'TCP' }] },
        ],
      },
      status: {
        phase: 'Running',
        podIP: '198.18.0.1',
        podIPs: [{ ip: '198.18.0.1' }, { ip: '2001:2::1' }],
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Ready', status: 'True' },
        ],
      },
    };
    assert.deepEqual(projectPod(raw), {
      uid: 'u1',
      name: 'web-1',
      namespace: 'shop',
      node: 'n1',
      hostNetwork: false,
      phase: 'Running',
      ready: true,
      ips: ['198.18.0.1', '2001:2::1'],
      labels: { app: 'web' },
      ignore: true,
      serviceNameAnnotation: 'web-svc',
      ports: [{ port: 8080, name: 'http' }, { port: 9100 }],
      owner: { kind: 'ReplicaSet', name: 'web-abc', uid: 'urs' },
    });
  });

  it('falls back on status.podIP, and drops objects without identity', () => {
    const p = projectPod({
      metadata: { name: 'a', namespace: 'b', uid: 'c' },
      status: { podIP: '198.18.0.9' },
    });
    assert.deepEqual(p?.ips, ['198.18.0.9']);
    assert.equal(p?.ready, false);
    assert.equal(p?.phase, 'Unknown');
    assert.equal(projectPod({ metadata: { name: 'a' } }), undefined);
  });
});

describe('projectService', () => {
  it('keeps TCP ports with targetPort as number or name, defaulting to port', () => {
    const raw = {
      metadata: { name: 's', namespace: 'n' },
      spec: {
        selector: { app: 'x' },
        ports: [
          { name: 'http', port: 80, targetPort: 'http' },
          { port: 81, targetPort: 8081 },
          { port: 82, targetPort: '8082' },
          { port: 83 },
          { port: 53, protocol: 'UDP' },
        ],
      },
    };
    assert.deepEqual(projectService(raw), {
      name: 's',
      namespace: 'n',
      selector: { app: 'x' },
      ports: [
        { port: 80, name: 'http', targetPort: 'http' },
        { port: 81, targetPort: 8081 },
        { port: 82, targetPort: 8082 },
        { port: 83, targetPort: 83 },
      ],
    });
  });

  it('an empty selector is no selector', () => {
    assert.deepEqual(
      projectService({ metadata: { name: 's', namespace: 'n' }, spec: { selector: {}, ports: [] } }),
      {
        name: 's',
        namespace: 'n',
        ports: [],
      },
    );
  });
});

describe('projectScope', () => {
  it('ignore only for the exact value "true"', () => {
    assert.deepEqual(projectScope({ metadata: { name: 'n', annotations: { 'owlk8s/ignore': 'true' } } }), {
      name: 'n',
      ignore: true,
    });
    assert.deepEqual(projectScope({ metadata: { name: 'n', annotations: { 'owlk8s/ignore': 'yes' } } }), {
      name: 'n',
      ignore: false,
    });
  });
});
