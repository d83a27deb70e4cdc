// deploy/: every manifest parses, and the fields that matter agree with the agent: capabilities
// exactly CAP_BPF and CAP_NET_RAW, probes on the admin endpoint's defaults and real paths, the
// ConfigMap validates against the schema, the service account is the one rbac.yaml grants.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { describe, it } from 'node:test';
import { parseWebConfig } from '@owlk8s/otel';
import { parseAllDocuments } from 'yaml';
import { startAdminServer } from '../../src/admin/admin-server.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ADMIN_DEFAULTS, envName } from '../../src/config/schema.ts';
import { SHUTDOWN_BUDGET_MS } from '../../src/run.ts';

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

  it('runs on the host network of every node, with the node name and address from the downward API', () => {
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    assert.deepEqual(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels);
    const env = Object.fromEntries(agent.env.map((e: Obj) => [e.name, e.valueFrom]));
    assert.deepEqual(env[envName('node.name')], { fieldRef: { fieldPath: 'spec.nodeName' } });
    assert.deepEqual(env[envName('export.otlp.headers')], {
      secretKeyRef: { name: 'owlk8s-otlp', key: 'headers', optional: true },
    });
    // The metrics endpoint binds the node's own address, not every interface of the host network.
    assert.deepEqual(env[envName('export.prometheus.host')], { fieldRef: { fieldPath: 'status.hostIP' } });
  });

  it('is system-node-critical, and its grace period is the agent’s shutdown budget plus 1.5 s to exit', () => {
    assert.equal(pod.priorityClassName, 'system-node-critical');
    assert.equal(SHUTDOWN_BUDGET_MS, 4500);
    assert.equal(pod.terminationGracePeriodSeconds * 1000, SHUTDOWN_BUDGET_MS + 1500);
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
    // The address comes from the DaemonSet's OWLK8S_EXPORT_PROMETHEUS_HOST, which wins over the file.
    assert.equal(
      loadConfig({
        file: 'deploy/configmap.yaml',
        text,
        env: { OWLK8S_NODE_NAME: 'node-1', OWLK8S_EXPORT_PROMETHEUS_HOST: '198.18.0.1' },
      }).config.export.prometheus.host,
      '198.18.0.1',
    );
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

describe('deploy/components/secure-metrics', () => {
  const COMPONENT = new URL('components/secure-metrics/', DEPLOY);
  const read = (file: string): Obj =>
    parseAllDocuments(readFileSync(new URL(file, COMPONENT), 'utf8'))[0]?.toJS();
  const component = read('kustomization.yaml');
  const patchOf = (kind: string): Obj => {
    const entry = component.patches.find((p: Obj) => p.target.kind === kind);
    assert.ok(entry, `a patch of the ${kind}`);
    return { target: entry.target, patch: read(entry.path) };
  };

  it('is a Component that patches the base’s DaemonSet and prometheus-rule’s PodMonitor by name', () => {
    assert.equal(component.kind, 'Component');
    assert.deepEqual(
      component.patches.map((p: Obj) => p.target),
      [
        { kind: 'DaemonSet', name: ds.metadata.name },
        { group: 'monitoring.coreos.com', kind: 'PodMonitor', name: 'owlk8s' },
      ],
    );
    const podMonitor = parseAllDocuments(
      readFileSync(new URL('components/prometheus-rule/podmonitor.yaml', DEPLOY), 'utf8'),
    )[0]?.toJS();
    assert.equal(podMonitor.metadata.name, 'owlk8s');
  });

  it('mounts the Secret owlk8s-web where the web configuration setting points, in the base’s container', () => {
    const { patch } = patchOf('DaemonSet');
    const container = patch.spec.template.spec.containers[0];
    assert.equal(container.name, agent.name);
    const env = Object.fromEntries(container.env.map((e: Obj) => [e.name, e.value]));
    const file: string = env[envName('export.prometheus.webConfigFile')];
    assert.equal(file, '/etc/owlk8s/web/web-config.yaml');
    const mount = container.volumeMounts.find((m: Obj) => m.mountPath === dirname(file));
    assert.equal(mount.readOnly, true);
    assert.ok(
      !agent.volumeMounts.some((m: Obj) => m.mountPath === mount.mountPath),
      'not where the ConfigMap is',
    );
    const volume = patch.spec.template.spec.volumes.find((v: Obj) => v.name === mount.name);
    assert.equal(volume.secret.secretName, 'owlk8s-web');
    assert.equal(patch.spec.template.metadata.annotations['prometheus.io/scheme'], 'https');
  });

  it('switches the PodMonitor’s endpoint to HTTPS with basic auth, the rest as prometheus-rule has it', () => {
    const { patch } = patchOf('PodMonitor');
    const base = parseAllDocuments(
      readFileSync(new URL('components/prometheus-rule/podmonitor.yaml', DEPLOY), 'utf8'),
    )[0]?.toJS();
    const [endpoint] = patch.spec.podMetricsEndpoints;
    const { scheme, tlsConfig, basicAuth, ...rest } = endpoint;
    assert.deepEqual(rest, base.spec.podMetricsEndpoints[0]);
    assert.equal(rest.port, agent.ports[0].name);
    assert.equal(scheme, 'https');
    assert.deepEqual(tlsConfig, {
      serverName: 'owlk8s-metrics',
      ca: { secret: { name: 'owlk8s-scrape', key: 'ca.crt' } },
    });
    assert.deepEqual(basicAuth, {
      username: { name: 'owlk8s-scrape', key: 'username' },
      password: { name: 'owlk8s-scrape', key: 'password' },
    });
  });

  it('ships an example web configuration that the agent accepts, naming the Secret’s tls.crt and tls.key', () => {
    const { config, problems } = parseWebConfig(
      readFileSync(new URL('web-config.example.yaml', COMPONENT), 'utf8'),
      '/etc/owlk8s/web',
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(config?.tls, {
      certFile: '/etc/owlk8s/web/tls.crt',
      keyFile: '/etc/owlk8s/web/tls.key',
      clientAuthType: 'NoClientCert',
      minVersion: 'TLSv1.2',
    });
    assert.deepEqual([...(config?.basicAuthUsers.keys() ?? [])], ['prometheus']);
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
