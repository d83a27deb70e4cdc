// monitoring/: the committed dashboard, rules and PrometheusRule are what the code generates;
// promtool accepts the rules and its unit tests (exact alerts, firing and not) pass; the optional
// kustomize component holds the same groups and scrapes the agents under the job the rules expect.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEFAULT_RULE_OPTIONS, GENERATED, inlineRecords, renderRules, ruleGroups } from '@owlk8s/monitoring';
import { parse } from 'yaml';

const ROOT = new URL('../../', import.meta.url);
const PROMTOOL = '/usr/bin/promtool';
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');

function promtool(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(PROMTOOL, args, { cwd: new URL('monitoring/prometheus/', ROOT), encoding: 'utf8' });
  assert.equal(
    r.error,
    undefined,
    `${PROMTOOL} is missing: apt-get install prometheus (scripts/setup.sh does)`,
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('monitoring/ generated files', () => {
  for (const f of GENERATED) {
    it(`${f.path} is what monitoring/src/generate.ts renders`, () => {
      const committed = read(f.path);
      const rendered = f.render();
      if (committed !== rendered) {
        const a = committed.split('\n');
        const e = rendered.split('\n');
        const i = a.findIndex((line, n) => line !== e[n]);
        assert.fail(
          `${f.path} is out of date at line ${i + 1}: the file has ${JSON.stringify(a[i])}, the generator gives ${JSON.stringify(e[i])}. Run \`node monitoring/src/generate.ts\` and commit the result.`,
        );
      }
    });
  }

  it('the dashboard has every row and panel of the issue, and only Prometheus queries on the datasource variable', () => {
    const d = JSON.parse(read('monitoring/dashboards/owlk8s.json'));
    assert.deepEqual(
      d.templating.list.map((v: { name: string }) => v.name),
      ['datasource', 'cluster', 'namespace', 'workload', 'service', 'pod'],
    );
    assert.deepEqual(
      d.panels.filter((p: { type: string }) => p.type === 'row').map((p: { title: string }) => p.title),
      [
        'Cluster overview',
        'Services and pods (server side)',
        'Client side: requests the pods send',
        'Agent health',
      ],
    );
    assert.deepEqual(
      d.panels.map((p: { id: number }) => p.id),
      Array.from({ length: 24 }, (_, i) => i + 1),
      'unique panel ids',
    );
    const panels = d.panels.filter((p: { type: string }) => p.type !== 'row');
    assert.equal(panels.length, 20);
    for (const p of panels) {
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: '$' + '{datasource}' }, p.title);
      assert.ok(p.targets.length > 0, p.title);
    }
  });

  it('the PrometheusRule of the kustomize component holds exactly the rule groups', () => {
    const rule = parse(read('deploy/components/prometheus-rule/prometheusrule.yaml'));
    assert.equal(rule.kind, 'PrometheusRule');
    assert.equal(rule.metadata.namespace, 'owlk8s');
    assert.deepEqual(rule.spec.groups, parse(renderRules()).groups);
    const component = parse(read('deploy/components/prometheus-rule/kustomization.yaml'));
    assert.equal(component.kind, 'Component');
    assert.deepEqual(component.resources, ['prometheusrule.yaml', 'podmonitor.yaml']);
    const monitor = parse(read('deploy/components/prometheus-rule/podmonitor.yaml'));
    assert.equal(monitor.kind, 'PodMonitor');
    const ds = parse(read('deploy/daemonset.yaml'));
    // The job label comes from the pods' label named by jobLabel: it must be the rules' job.
    assert.equal(ds.spec.template.metadata.labels[monitor.spec.jobLabel], DEFAULT_RULE_OPTIONS.agentJob);
    assert.deepEqual(monitor.spec.selector.matchLabels, ds.spec.selector.matchLabels);
    assert.deepEqual(monitor.spec.namespaceSelector.matchNames, [ds.metadata.namespace]);
    const port = monitor.spec.podMetricsEndpoints[0].port;
    assert.ok(ds.spec.template.spec.containers[0].ports.some((p: { name: string }) => p.name === port));
  });

  it('inlineRecords spells out every recorded series an alert reads', () => {
    for (const g of ruleGroups()) {
      for (const r of g.rules) {
        if ('alert' in r)
          assert.doesNotMatch(inlineRecords(r.expr), /namespace_(workload|service):/, r.alert);
      }
    }
    assert.equal(
      inlineRecords('namespace_service:http_server_requests:rate5m > 1'),
      '(sum by (cluster, k8s_namespace_name, k8s_service_name) (rate(http_server_request_duration_seconds_count{k8s_service_name!=""}[5m]))) > 1',
    );
  });
});

describe('promtool', () => {
  it('check rules accepts the 19 rules', () => {
    const r = promtool(['check', 'rules', 'owlk8s-rules.yaml']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS: 19 rules found/);
  });

  it('test rules: every alert fires where expected and nowhere else, recorded values exact', () => {
    const r = promtool(['test', 'rules', 'owlk8s-rules.test.yaml']);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });
});
