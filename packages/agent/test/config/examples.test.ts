// Every owlk8s configuration the project ships validates against the schema: the example
// settings in otel-config/owlk8s*.yaml and the ConfigMap of deploy/.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';

const ROOT = new URL('../../../../', import.meta.url);

function shipped(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  let examples: string[] = [];
  try {
    examples = readdirSync(new URL('otel-config/', ROOT)).filter((f) => /^owlk8s.*\.ya?ml$/.test(f));
  } catch {
    examples = [];
  }
  for (const f of examples.sort()) {
    out.push({ name: `otel-config/${f}`, text: readFileSync(new URL(`otel-config/${f}`, ROOT), 'utf8') });
  }
  for (const doc of parseAllDocuments(readFileSync(new URL('deploy/configmap.yaml', ROOT), 'utf8'))) {
    const cm = doc.toJS() as { kind?: string; data?: Record<string, string> };
    for (const [key, text] of Object.entries(cm?.kind === 'ConfigMap' ? (cm.data ?? {}) : {})) {
      out.push({ name: `deploy/configmap.yaml (${key})`, text });
    }
  }
  return out;
}

const configs = shipped();

it('finds the shipped configurations (the deploy ConfigMap at least)', () => {
  assert.ok(configs.some((c) => c.name === 'deploy/configmap.yaml (owlk8s.yaml)'));
});

for (const { name, text } of configs) {
  it(`${name} validates`, () => {
    // As in a pod: the node name from the downward API, nothing else from this machine's environment.
    const { config, notices } = loadConfig({ file: name, text, env: { OWLK8S_NODE_NAME: 'node-1' } });
    assert.deepEqual(notices, []);
    assert.equal(config.node.name, 'node-1');
  });
}
