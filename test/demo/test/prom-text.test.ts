import assert from 'node:assert/strict';
import { test } from 'node:test';
import { histogramQuantile, parsePrometheusText } from '../prom-text.ts';

test('parsePrometheusText reads names, escaped labels and values', () => {
  const text = `# HELP x y
# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_bucket{k8s_pod_name="web-1",le="0.005"} 3
http_server_request_duration_seconds_bucket{k8s_pod_name="web-1",le="+Inf"} 10 1700000000000
up 1
odd{a="q\\"uote",b="back\\\\slash"} -Inf
`;
  assert.deepEqual(parsePrometheusText(text), [
    {
      name: 'http_server_request_duration_seconds_bucket',
      labels: { k8s_pod_name: 'web-1', le: '0.005' },
      value: 3,
    },
    {
      name: 'http_server_request_duration_seconds_bucket',
      labels: { k8s_pod_name: 'web-1', le: '+Inf' },
      value: 10,
    },
    { name: 'up', labels: {}, value: 1 },
    { name: 'odd', labels: { a: 'q"uote', b: 'back\\slash' }, value: -Infinity },
  ]);
  assert.throws(() => parsePrometheusText('this is not a sample'), /not a Prometheus sample line/);
});

test('histogramQuantile interpolates like PromQL', () => {
  const b = [
    { le: 0.01, count: 50 },
    { le: 0.05, count: 90 },
    { le: 0.1, count: 100 },
    { le: Infinity, count: 100 },
  ];
  assert.equal(histogramQuantile(0.5, b), 0.01);
  assert.equal(histogramQuantile(0.7, b), 0.03);
  assert.equal(histogramQuantile(0.95, b).toFixed(9), (0.075).toFixed(9));
  assert.equal(histogramQuantile(0.25, b), 0.005);
  assert.ok(Number.isNaN(histogramQuantile(0.5, [{ le: Infinity, count: 0 }])));
  assert.equal(
    histogramQuantile(0.99, [
      { le: 1, count: 1 },
      { le: Infinity, count: 10 },
    ]),
    1,
  );
});
