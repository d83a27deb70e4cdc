// deploy/: every manifest parses, and the fields that matter agree with the agent: capabilities
// exactly CAP_BPF and CAP_NET_RAW, probes on the admin endpoint's defaults and real paths, the
// ConfigMap validates against the schema, the service account is the one rbac.yaml grants.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { startAdminServer } from '../../src/admin/admin-server.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ADMIN_DEFAULTS, envName } from '../../src/config/schema.ts';

const DEPLOY = new URL('../../../../deploy/', import.meta.url);
const files = readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml'));

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML; each test states the shape it needs.
type Obj = any;

const objects: { file: string; obj: Obj }[] = [];
for (const file of files) {
  for (const doc of parseAllDocuments(readFileSync(new URL(file, DEPLOY), 'utf8'))) {
    assert.deepEqual(doc.errors, [], file);
    const obj = doc.toJS() as Obj;
    if (obj !== null) objects.push({ file, obj });
  }
}
const one = (kind: string): Obj => {
  const found = objects.filter((o) => o.obj.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]?.obj;
};

const ds = one('DaemonSet');
const pod = ds.spec.template.spec;
const agent = pod.containers[0];
const configMap = one('ConfigMap');

describe('deploy/ manifests', () => {
  it('are the files kustomization.yaml lists, rbac.yaml included, each with apiVersion and kind', () => {
    const kustomization = one('Kustomization');
    assert.deepEqual(
      [...kustomization.resources].sort(),
      files.filter((f) => f !== 'kustomization.yaml').sort(),
    );
    assert.ok(kustomization.resources.includes('rbac.yaml'));
    assert.equal(kustomization.namespace, 'owlk8s');
    for (const { file, obj } of objects) {
      assert.equal(typeof obj.apiVersion, 'string', file);
      assert.equal(typeof obj.kind, 'string', file);
    }
    assert.deepEqual(objects.map((o) => o.obj.kind).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'DaemonSet',
      'Kustomization',
      'Namespace',
      'ServiceAccount',
    ]);
    assert.equal(one('Namespace').metadata.name, 'owlk8s');
  });

  it('runs the DaemonSet as the service account that rbac.yaml binds', () => {
    const sa = one('ServiceAccount');
    assert.equal(pod.serviceAccountName, sa.metadata.name);
    assert.equal(ds.metadata.namespace, sa.metadata.namespace);
    assert.deepEqual(one('ClusterRoleBinding').subjects, [
      { kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace },
    ]);
  });

  it('adds exactly CAP_BPF, CAP_NET_RAW and CAP_PERFMON, drops the rest, and keeps the root filesystem read-only', () => {
    assert.equal(pod.containers.length, 1);
    assert.deepEqual(agent.securityContext, {
      runAsUser: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      seccompProfile: { type: 'RuntimeDefault' },
      capabilities: { drop: ['ALL'], add: ['BPF', 'NET_RAW', 'PERFMON'] },
    });
    // Each added capability is justified in a comment next to it.
    const text = readFileSync(new URL('daemonset.yaml', DEPLOY), 'utf8');
    assert.match(text, /# BPF: .+\n(\s+#.+\n)*\s+- BPF\n/);
    assert.match(text, /# NET_RAW: .+\n(\s+#.+\n)*\s+- NET_RAW\n/);
    assert.match(text, /# PERFMON: .+\n(\s+#.+\n)*\s+- PERFMON\n/);
    for (const notAdded of ['SYS_RESOURCE', 'NET_ADMIN', 'SYS_ADMIN']) {
      assert.match(text, new RegExp(`# ${notAdded}: `), `${notAdded} is explained`);
    }
  });

  it('runs on the host network of every node, with the node name from the downward API', () => {
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    assert.deepEqual(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels);
    const env = Object.fromEntries(agent.env.map((e: Obj) => [e.name, e.valueFrom]));
    assert.deepEqual(env[envName('node.name')], { fieldRef: { fieldPath: 'spec.nodeName' } });
    assert.deepEqual(env[envName('export.otlp.headers')], {
      secretKeyRef: { name: 'owlk8s-otlp', key: 'headers', optional: true },
    });
    assert.ok(pod.terminationGracePeriodSeconds >= 10, 'room for the 5-second shutdown');
  });

  it('sets resource requests and limits', () => {
    const { requests, limits } = agent.resources;
    assert.deepEqual(Object.keys(requests).sort(), ['cpu', 'memory']);
    assert.deepEqual(Object.keys(limits).sort(), ['cpu', 'memory']);
    const mib = (q: string) => Number(q.replace(/Mi$/, ''));
    assert.ok(mib(requests.memory) <= mib(limits.memory));
  });

  it('probes the admin endpoint at its default address, on paths it serves', async () => {
    assert.deepEqual(agent.livenessProbe.httpGet, {
      host: ADMIN_DEFAULTS.host,
      port: ADMIN_DEFAULTS.port,
      path: '/healthz',
    });
    assert.deepEqual(agent.readinessProbe.httpGet, {
      host: ADMIN_DEFAULTS.host,
      port: ADMIN_DEFAULTS.port,
      path: '/readyz',
    });
    let ready = false;
    const admin = await startAdminServer(
      { readiness: () => ({ ready, checks: { 'first sync done': ready } }), targets: () => [] },
      ADMIN_DEFAULTS.host,
      0,
    );
    try {
      assert.equal((await fetch(`${admin.url}${agent.livenessProbe.httpGet.path}`)).status, 200);
      assert.equal((await fetch(`${admin.url}${agent.readinessProbe.httpGet.path}`)).status, 503);
      ready = true;
      assert.equal((await fetch(`${admin.url}${agent.readinessProbe.httpGet.path}`)).status, 200);
    } finally {
      await admin.close();
    }
  });

  it('mounts the ConfigMap where --config points, and its configuration validates', () => {
    assert.deepEqual(agent.args.slice(0, 2), ['run', '--config']);
    const path: string = agent.args[2];
    const mount = agent.volumeMounts.find((m: Obj) => m.mountPath === dirname(path));
    assert.ok(mount, `a volume at ${dirname(path)}`);
    assert.equal(mount.readOnly, true);
    const volume = pod.volumes.find((v: Obj) => v.name === mount.name);
    assert.equal(volume.configMap.name, configMap.metadata.name);
    assert.equal(configMap.metadata.namespace, ds.metadata.namespace);
    const text: string = configMap.data[basename(path)];
    assert.equal(typeof text, 'string');
    // As the pod sees it: the node name comes from the downward API.
    const { config, notices } = loadConfig({
      file: 'deploy/configmap.yaml',
      text,
      env: { OWLK8S_NODE_NAME: 'node-1' },
    });
    assert.deepEqual(notices, []);
    assert.deepEqual(config.admin, ADMIN_DEFAULTS);
    assert.equal(config.targets.source, 'kubernetes');
    const metrics = agent.ports.find((p: Obj) => p.name === 'metrics');
    assert.equal(metrics.containerPort, config.export.prometheus.port);
    assert.equal(
      ds.spec.template.metadata.annotations['prometheus.io/port'],
      String(config.export.prometheus.port),
    );
    assert.equal(ds.spec.template.metadata.annotations['prometheus.io/path'], config.export.prometheus.path);
  });
});

describe('deploy/Dockerfile', () => {
  const text = readFileSync(new URL('Dockerfile', DEPLOY), 'utf8');
  const froms = [...text.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)].map((m) => ({ image: m[1], stage: m[2] }));

  it('builds the BPF object with clang in its own stage; the agent and the runtime stage come from deploy/rootfs.sh', () => {
    assert.deepEqual(froms, [
      { image: 'debian:trixie-slim', stage: 'bpf' },
      { image: 'debian:trixie-slim', stage: 'app' },
      { image: 'debian:trixie-slim', stage: undefined },
    ]);
    assert.match(text, /apt-get install [^\n]*\bclang\b[^\n]*\blibbpf-dev\b/);
    assert.match(text, /RUN make -C bpf\n/);
    // The same recipe test/e2e/image.test.ts builds and runs the agent in: nothing else goes in.
    assert.match(text, /COPY --from=bpf \/src\/bpf\/build\/ bpf\/build\/\n/);
    assert.match(text, /^RUN deploy\/rootfs\.sh app \/rootfs$/m);
    const runtime = text.slice(text.lastIndexOf('\nFROM '));
    assert.deepEqual(
      [...runtime.matchAll(/^(RUN|COPY|ADD) (.+)$/gm)].map((m) => `${m[1]} ${m[2]}`),
      [
        'COPY deploy/rootfs.sh /tmp/rootfs.sh',
        'RUN /tmp/rootfs.sh packages / && rm /tmp/rootfs.sh',
        'COPY --from=app /rootfs/ /',
      ],
    );
    // pnpm as pinned by package.json (rootfs.sh refuses another version).
    const pkg = JSON.parse(readFileSync(new URL('../package.json', DEPLOY), 'utf8')) as {
      packageManager: string;
    };
    assert.equal(/npm install -g (pnpm@\S+)/.exec(text)?.[1], pkg.packageManager);
    // The Debian release of the FROM lines is the one the script debootstraps for the test.
    const script = readFileSync(new URL('rootfs.sh', DEPLOY), 'utf8');
    assert.equal(/^SUITE=(\S+)$/m.exec(script)?.[1], 'trixie');
  });

  it('keeps the machine’s node_modules and build output out of the build context', () => {
    const ignore = readFileSync(new URL('Dockerfile.dockerignore', DEPLOY), 'utf8').split('\n');
    for (const p of ['**/node_modules', '**/.types', '.git', 'bpf/build']) assert.ok(ignore.includes(p), p);
  });

  it('starts the compiled CLI, young generation at 1 MiB, with the configuration path the DaemonSet mounts', () => {
    // main.js: deploy/rootfs.sh app compiles the agent; the flag and the figures: BENCHMARKS.md.
    assert.match(
      text,
      /^ENTRYPOINT \["node", "--max-semi-space-size=1", "\/app\/packages\/agent\/src\/cli\/main\.js"\]$/m,
    );
    const cmd = /^CMD (.+)$/m.exec(text)?.[1];
    assert.deepEqual(JSON.parse(cmd ?? 'null'), agent.args);
  });
});
