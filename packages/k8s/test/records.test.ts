import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  projectEndpointSlice,
  projectNode,
  projectPod,
  projectScope,
  projectService,
} from '../src/records.ts';

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
  it('keeps TCP ports with targetPort as number or name, defaulting to port, and their NodePort', () => {
    const raw = {
      metadata: { name: 's', namespace: 'n' },
      spec: {
        selector: { app: 'x' },
        ports: [
          { name: 'http', port: 80, targetPort: 'http' },
          { port: 81, targetPort: 8081 },
          { port: 82, targetPort: '8082' },
          { port: 83 },
          { port: 84, targetPort: 8084, nodePort: 30084 },
          { port: 53, protocol: 'UDP', nodePort: 30053 },
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
        { port: 84, targetPort: 8084, nodePort: 30084 },
      ],
      clusterIPs: [],
    });
  });

  it('keeps spec.clusterIPs of both families in canonical form, spec.clusterIP without the list, none when headless', () => {
    const svc = (spec: object) =>
      projectService({ metadata: { name: 's', namespace: 'n' }, spec })?.clusterIPs;
    assert.deepEqual(svc({ clusterIP: '198.18.1.1', clusterIPs: ['198.18.1.1', '2001:2:0:0::1:1'] }), [
      '198.18.1.1',
      '2001:2::1:1',
    ]);
    assert.deepEqual(svc({ clusterIP: '2001:2::1:2' }), ['2001:2::1:2']);
    assert.deepEqual(svc({ clusterIP: 'None', clusterIPs: ['None'] }), []);
    assert.deepEqual(svc({ type: 'ExternalName', externalName: 'db.example.com' }), []);
  });

  it('an empty selector is no selector', () => {
    assert.deepEqual(
      projectService({ metadata: { name: 's', namespace: 'n' }, spec: { selector: {}, ports: [] } }),
      {
        name: 's',
        namespace: 'n',
        ports: [],
        clusterIPs: [],
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

describe('projectEndpointSlice', () => {
  it("keeps each endpoint's addresses (canonical), its Pod targetRef, terminating, and the Service label", () => {
    const raw = {
      metadata: { name: 'web-x7k2p', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv6',
      endpoints: [
        {
          addresses: ['2001:2:0:0::a'],
          conditions: { ready: true, serving: true, terminating: false },
          targetRef: { kind: 'Pod', name: 'web-1', namespace: 'shop', uid: 'u1' },
          nodeName: 'node-a',
        },
        {
          addresses: ['2001:2::b'],
          conditions: { ready: false, terminating: true },
          targetRef: { kind: 'Pod', name: 'web-2' },
        },
        { addresses: ['2001:2::c'] },
        { addresses: [] },
      ],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    };
    assert.deepEqual(projectEndpointSlice(raw), {
      name: 'web-x7k2p',
      namespace: 'shop',
      service: 'web',
      endpoints: [
        { addresses: ['2001:2::a'], pod: { name: 'web-1', namespace: 'shop' }, terminating: false },
        { addresses: ['2001:2::b'], pod: { name: 'web-2', namespace: 'shop' }, terminating: true },
        { addresses: ['2001:2::c'], terminating: false },
      ],
    });
  });

  it('keeps no endpoint of an FQDN slice, and no service without the label', () => {
    assert.deepEqual(
      projectEndpointSlice({
        metadata: { name: 'ext', namespace: 'n' },
        addressType: 'FQDN',
        endpoints: [{ addresses: ['db.example.com'] }],
      }),
      { name: 'ext', namespace: 'n', endpoints: [] },
    );
  });
});

describe('projectNode', () => {
  it('keeps InternalIP and ExternalIP addresses (canonical), not host names', () => {
    assert.deepEqual(
      projectNode({
        metadata: { name: 'node-a' },
        status: {
          addresses: [
            { type: 'InternalIP', address: '198.18.0.10' },
            { type: 'InternalIP', address: '2001:2:0:0:0:0:0:10' },
            { type: 'ExternalIP', address: '198.19.0.10' },
            { type: 'Hostname', address: 'node-a' },
            { type: 'InternalDNS', address: 'node-a.internal' },
          ],
        },
      }),
      { name: 'node-a', ignore: false, addresses: ['198.18.0.10', '2001:2::10', '198.19.0.10'] },
    );
  });
});
