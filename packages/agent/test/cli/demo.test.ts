// `owlk8s demo` finds the demo of the source tree (@owlk8s/e2e cannot be a dependency of this
// package: it depends on this package).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { importDemo } from '../../src/cli/commands/run.ts';

it('finds runDemo in this checkout', async () => {
  const demo = await importDemo();
  assert.ok(demo, 'the demo module of test/demo');
  assert.equal(typeof demo.runDemo, 'function');
});
